"""The Flash Attention lesson (p3.flash): what tests/test_graders.py does not already prove.

The memory rules report their figures, the saved-tensor rule names what was kept, and every numeric
answer of the lesson's reasoning checks follows from the arithmetic (or the reference's own loop) it
claims; the free-text rubrics accept their own explanations and reject a vague answer.
"""

import functools
import importlib.util
import itertools
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest

from mentor.authoring import compose_known_wrong, grade_file, known_wrong_cases
from mentor.checks import accepts, evaluate, expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import Draw
from mentor.paths import content_root

COURSE = load_course(content_root())
FORWARD, BACKWARD = "p3.flash.forward", "p3.flash.backward"


def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def _grade_case(job):
    step_id, case_name = job
    step = COURSE.step(step_id)
    case = next(c for c in known_wrong_cases(COURSE, step) if c.name == case_name)
    with tempfile.TemporaryDirectory(prefix="mentor-flash-") as tmp:
        return grade_file(COURSE, step, compose_known_wrong(COURSE, step, case, Path(tmp)), Path(tmp), profile="cpu-8gb")


@functools.cache
def graded() -> dict:
    jobs = [(FORWARD, "materialises_scores"), (BACKWARD, "saves_weights")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(_grade_case, jobs)))


def failure(result, test_name):
    return next(t for t in result.tests if t.name == test_name and t.outcome != "passed")


def test_a_tiled_loop_over_the_full_score_matrix_fails_the_memory_budget_with_its_figures():
    result = graded()[FORWARD, "materialises_scores"]
    test = failure(result, "test_memory_grows_linearly_in_T")
    assert "grows faster than T" in test.message
    assert "budget memory_scaling" in test.diff and "allowed at most 2.5" in test.diff and "profile cpu-8gb" in test.diff
    figures = [m for m in result.measurements if m["budget"] == "memory_scaling"]
    assert figures and not figures[0]["ok"] and figures[0]["measured"] > 3.0  # (T, S) scores: ~4x when T doubles
    memory_tests = {"test_memory_grows_linearly_in_T", "test_memory_does_not_grow_with_the_keys"}
    assert all(t.outcome == "passed" for t in result.tests if t.name not in memory_tests), [
        (t.name, t.message) for t in result.tests if t.outcome != "passed"
    ]  # its values are right: only the memory gives it away


def test_saving_the_weights_is_named_with_the_shapes_that_were_kept():
    result = graded()[BACKWARD, "saves_weights"]
    test = failure(result, "test_saves_no_score_matrix")
    assert "saved for backward" in test.message and "8192" in test.message
    assert "saved (1, 2, 64, 64)" in test.diff  # the (B, H, T, S) weights, as save_for_backward received them


def _reference():
    spec = importlib.util.spec_from_file_location("flash_reference", COURSE.content_root / COURSE.step(FORWARD).solution)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draws(step_id: str, check_id: str):
    """Every parameter combination the check can draw, with the answer it then expects."""
    c = check(step_id, check_id)
    names = list(c.params or {})
    for values in itertools.product(*[c.params[n].values() for n in names]):
        params = dict(zip(names, values))
        yield params, expected_answer(c, Draw("test", step_id, check_id, 0, params))


def test_the_causal_tile_count_is_what_the_reference_loop_visits():
    import torch

    reference, maximum = _reference(), torch.maximum
    for params, expected in draws(FORWARD, "causal-tiles"):
        calls = []

        def counting(*args, **kwargs):  # the running max is updated once per (query block, key tile)
            calls.append(1)
            return maximum(*args, **kwargs)

        T, bk = int(params["T"]), int(params["bk"])
        q = torch.zeros(1, 1, T, 1)
        with mock.patch.object(torch, "maximum", counting):
            reference.flash_attention_forward(q, q, q, causal=True, block_q=2 * bk, block_k=bk)
        assert len(calls) == expected, params


def test_the_numeric_answers_follow_from_their_arithmetic():
    for p, expected in draws(FORWARD, "weights-vs-tile"):
        assert expected == (4 * 16 * p["T"] ** 2 * 2) / (4 * 16 * p["blk"] ** 2 * 4)
    for p, expected in draws(FORWARD, "naive-fits"):
        budget = 3072 * 2**20
        assert expected == max(T for T in range(256, 40000, 256) if 2 * p["H"] * T * T * 4 <= budget), p
    for p, expected in draws(BACKWARD, "saved-bytes"):
        B, H, T, D = 2, p["H"], p["T"], p["D"]
        assert expected == 4 * B * H * T * D * 2 + B * H * T * 4
    flash, naive = 2 + 5, 2 + 4  # matmuls of 2·T·S·D FLOPs: forward + backward
    assert math.isclose(check(BACKWARD, "recompute-flops").answer.numeric, flash / naive, rel_tol=1e-3)


def test_no_known_wrong_answer_is_the_right_one():
    for step in (COURSE.step(FORWARD), COURSE.step(BACKWARD)):
        for c in step.checks:
            for wrong in c.answer.wrong or []:
                for params, expected in draws(step.id, c.id):
                    value = wrong.numeric if wrong.numeric is not None else evaluate(wrong.formula, params)
                    assert not accepts(c, value, expected), (c.id, wrong.why, params)


@pytest.mark.parametrize("step_id,check_id", [(FORWARD, "lse-enough"), (BACKWARD, "delta-identity")])
def test_a_rubric_accepts_its_own_explanation_and_rejects_a_vague_answer(step_id, check_id):
    c = check(step_id, check_id)
    assert is_correct(c, c.explain)
    assert not is_correct(c, "Because that is how the math works out.")
