"""The norms lesson (p3.norms): what tests/test_graders.py does not already prove.

A Python loop over rows fails the forward's and the backward's latency budgets with their figures under
the cpu-8gb profile, while every other test of the grader passes there (its memory cap and threads
included); a crash on weight=None is named together with the learner's line; the numeric answers of the
reasoning checks agree with what PyTorch computes for every drawn value, and the choices and the rubric
accept their worked answers and reject the classic wrong ones.
"""

import functools
import itertools
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.authoring import compose_known_wrong, grade_file, known_wrong_cases
from mentor.checks import expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import Draw
from mentor.paths import content_root

COURSE = load_course(content_root())
FORWARD, BACKWARD = "p3.norms.forward", "p3.norms.backward"
JOBS = ((FORWARD, "row_loop", "cpu-8gb"), (BACKWARD, "backward_row_loop", "cpu-8gb"), (FORWARD, "none_weight_crashes", ""))


def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def _grade(job):
    step_id, case, profile = job
    step = COURSE.step(step_id)
    known = next(c for c in known_wrong_cases(COURSE, step) if c.name == case)
    with tempfile.TemporaryDirectory(prefix="mentor-norms-") as tmp:
        path = compose_known_wrong(COURSE, step, known, Path(tmp))
        return grade_file(COURSE, step, path, Path(tmp), profile=profile)


@functools.cache
def graded() -> dict:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(JOBS, pool.map(_grade, JOBS)))


def failures(result) -> dict:
    return {t.name: t for t in result.tests if t.outcome != "passed"}


@pytest.mark.parametrize(
    "job,test_name",
    [(JOBS[0], "test_latency[layer_norm]"), (JOBS[1], "test_latency")],
    ids=["forward", "backward"],
)
def test_a_row_loop_fails_only_the_latency_budget_with_its_figures(job, test_name):
    result = graded()[job]
    assert result.status == "failed", result.message
    failed = failures(result)
    assert list(failed) == [test_name], {k: t.message for k, t in failed.items()}  # all else passes under cpu-8gb
    test = failed[test_name]
    assert "much slower than the reference" in test.message and "Python loop over rows" in test.message
    assert "budget latency_ratio" in test.diff and "allowed at most 3" in test.diff and "profile cpu-8gb" in test.diff
    figures = [m for m in result.measurements if m["budget"] == "latency_ratio" and not m["ok"]]
    assert figures and figures[0]["measured"] > 3 and figures[0]["profile"] == "cpu-8gb"


def test_a_crash_on_weight_none_names_the_learners_line():
    result = graded()[JOBS[2]]
    test = failures(result)["test_weight_and_bias_may_be_none"]
    assert test.message.startswith("weight and bias may be None")
    assert "TypeError" in test.diff and "norms.py:" in test.diff and "* weight + bias" in test.diff


def draws(c):
    """Every combination of a check's params, as the Draw a learner could get (None for a fixed check)."""
    if not c.params:
        yield None
        return
    names = sorted(c.params)
    for values in itertools.product(*(c.params[n].values() for n in names)):
        yield Draw("test", "", c.id, 0, dict(zip(names, values)))


def test_the_norm_parameter_count_is_what_nn_layernorm_holds():
    c = check(FORWARD, "gpt-norm-params")
    for draw in draws(c):
        L, d = int(draw.params["L"]), int(draw.params["d"])
        norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(2 * L + 1)])
        assert expected_answer(c, draw) == sum(p.numel() for p in norms.parameters())


def test_the_near_constant_row_answer_is_what_f_layer_norm_gives():
    c = check(FORWARD, "near-constant-row")
    for draw in draws(c):
        base, delta = draw.params["c"], draw.params["delta"]
        x = torch.tensor([base, base, base, base + delta], dtype=torch.float64)
        want = F.layer_norm(x, (4,), eps=1e-5)[-1].item()
        assert abs(expected_answer(c, draw) - want) < 1e-6 * abs(want), draw.params
        assert is_correct(c, f"{want:.3g}", draw)
        assert not is_correct(c, "1.732", draw)  # the answer without eps


def test_the_float16_threshold_is_where_a_float16_sum_overflows():
    c = check(FORWARD, "float16-sum-overflow")
    for draw in draws(c):
        D, cmin = int(draw.params["D"]), expected_answer(c, draw)
        below = torch.full((D,), cmin * 0.995, dtype=torch.float16).pow(2).sum()
        above = torch.full((D,), cmin * 1.005, dtype=torch.float16).pow(2).sum()
        assert torch.isfinite(below) and torch.isinf(above), (D, cmin)


def test_the_saved_bytes_are_what_the_reference_function_saves():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("norms_reference", COURSE.content_root / COURSE.step(BACKWARD).solution)
    reference = module_from_spec(spec)
    spec.loader.exec_module(reference)
    c = check(BACKWARD, "saved-bytes")
    B, T, d, L = 2, 3, 5, 1  # the formula at a size small enough to run
    x = torch.randn(B, T, d, requires_grad=True)
    y = reference.layer_norm_manual(x, torch.ones(d, requires_grad=True), torch.zeros(d, requires_grad=True))
    per_norm = sum(t.numel() * t.element_size() for t in y.grad_fn.saved_tensors[:2])  # x̂ and 1/σ
    small = Draw("test", "", c.id, 0, {"L": L, "B": B, "T": T, "d": d})
    assert expected_answer(c, small) == 2 * L * per_norm


def test_the_dbias_answer_is_what_autograd_gives():
    c = check(BACKWARD, "dbias-entries")
    for draw in draws(c):
        B, T, D = (int(draw.params[k]) for k in "BTD")
        bias = torch.zeros(D, requires_grad=True)
        F.layer_norm(torch.randn(B, T, D), (D,), None, bias).sum().backward()
        assert torch.all(bias.grad == expected_answer(c, draw))
        assert not is_correct(c, "1", draw) and not is_correct(c, str(B), draw)


@pytest.mark.parametrize(
    "step_id,check_id,right,wrong",
    [
        (FORWARD, "shift-and-scale", "b", "a"),  # RMSNorm keeps the shift
        (BACKWARD, "grad-of-output-sum", "c", "a"),  # Σ x̂ is 0 whatever x is
        (BACKWARD, "rmsnorm-rows", "c", "a"),  # no mean subtracted: no shift invariance
    ],
)
def test_the_choices_accept_the_worked_answer_only(step_id, check_id, right, wrong):
    c = check(step_id, check_id)
    draw = next(draws(c), None)
    assert is_correct(c, right, draw) and not is_correct(c, wrong, draw)


def test_the_rubric_accepts_its_own_explanation_and_rejects_a_vague_answer():
    c = check(FORWARD, "why-rmsnorm-cheaper")
    assert is_correct(c, c.explain)
    assert is_correct(c, "It does not subtract the mean, so each row needs a single reduction, the mean square.")
    assert not is_correct(c, "It has fewer parameters, so it is faster.")
