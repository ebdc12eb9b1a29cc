"""The AdamW lesson (p3.adamw): what tests/test_graders.py does not already prove.

An element-by-element update fails the latency budget with its figures, and is stopped early instead of
running into the timeout; a bias correction that divides by zero is named together with the learner's
line; the drawn answers of the reasoning checks agree with the arithmetic (and with the reference and
torch) for several learners, their declared wrong answers are rejected, and the rubric accepts its own
explanation but not a vague one.
"""

import functools
import importlib.util
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from mentor.authoring import compose_known_wrong, compose_submission, grade_file, known_wrong_cases
from mentor.checks import evaluate, expected_answer, is_correct
from mentor.draws import draw
from mentor.curriculum import load_course
from mentor.paths import content_root

COURSE = load_course(content_root())
OPTIMIZER, SCHEDULE = "p3.adamw.optimizer", "p3.adamw.schedule"

# Bias corrections computed from a step counted from 0, with Python floats: 1 - beta**0 is 0.0.
FLOAT_STEP_ZERO = '''
class AdamW(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                t = state["step"]
                step_size = group["lr"] / (1 - beta1**t)
                state["step"] += 1
                p.add_(p.grad, alpha=-step_size)
'''


def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def _grade(job):
    step_id, case = job
    step = COURSE.step(step_id)
    with tempfile.TemporaryDirectory(prefix="mentor-adamw-") as tmp:
        if case == "float_step_zero":
            path = compose_submission(COURSE, step, Path(tmp), FLOAT_STEP_ZERO)
        else:
            known = next(c for c in known_wrong_cases(COURSE, step) if c.name == case)
            path = compose_known_wrong(COURSE, step, known, Path(tmp))
        return grade_file(COURSE, step, path, Path(tmp), profile="cpu-8gb")


@functools.cache
def graded() -> dict:
    jobs = [(OPTIMIZER, "element_loop"), (OPTIMIZER, "float_step_zero")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(_grade, jobs)))


def failure(result, test_name):
    return next(t for t in result.tests if t.name == test_name and t.outcome != "passed")


def test_an_element_loop_fails_the_latency_budget_with_its_figures_and_never_times_out():
    result = graded()[OPTIMIZER, "element_loop"]
    assert result.status == "failed", result.message  # stopped by the grader's own time guard, not the timeout
    test = failure(result, "test_update_is_vectorised")
    assert "much slower than the reference" in test.message and "8 tensors of 16x16" in test.message
    assert "budget latency_ratio" in test.diff and "allowed at most 3" in test.diff and "profile cpu-8gb" in test.diff
    figures = [m for m in result.measurements if m["budget"] == "latency_ratio"]
    assert figures and not figures[0]["ok"] and figures[0]["measured"] > 10  # ~100x: a loop, not noise
    long_run = failure(result, "test_long_run_matches_torch")
    assert "much slower" in long_run.message and "torch.optim.AdamW did all 1000" in long_run.diff


def test_a_bias_correction_dividing_by_zero_names_the_learners_line():
    result = graded()[OPTIMIZER, "float_step_zero"]
    test = failure(result, "test_first_step_matches_torch")
    assert "bias correction at step 0 divides by zero" in test.message
    assert "ZeroDivisionError" in test.diff and "`step_size = group[\"lr\"] / (1 - beta1**t)`" in test.diff


def drawn(step_id: str, check_id: str, learners=8):
    """The check and its draws for a few learners, with the accepted answer for each."""
    c = check(step_id, check_id)
    return [(c, d, float(expected_answer(c, d))) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def test_the_numeric_answers_follow_from_their_arithmetic():
    def clipped(a, b, c, m):
        grads = [torch.full((1,), float(x)) for x in (a, b, c)]
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in grads]
        for p, g in zip(params, grads):
            p.grad = g
        torch.nn.utils.clip_grad_norm_(params, m)
        return float(params[2].grad.norm())

    worked = {
        (OPTIMIZER, "state-bytes"): lambda N: 2 * 4 * N * 10**6,  # m and v, 4 bytes each
        (OPTIMIZER, "halving-steps"): lambda lr, wd: math.log(0.5) / math.log(1 - lr * wd),  # exact compounding
        (OPTIMIZER, "bias-correction-factor"): lambda beta2, t: 1 / (1 - beta2**t),
        (SCHEDULE, "lr-cosine-step"): lambda M, W, T, S: _reference().lr_at(S, M, W, T, M / 10),
        (SCHEDULE, "warmup-half"): lambda W: min(s for s in range(W) if _reference().lr_at(s, 1.0, W, 10 * W, 0.0) >= 0.5),
        (SCHEDULE, "clipped-norm"): clipped,  # what torch's clip_grad_norm_ gives
    }
    for (step_id, check_id), work in worked.items():
        for c, d, expected in drawn(step_id, check_id):
            want = work(**{k: (int(v) if float(v).is_integer() else v) for k, v in d.params.items()})
            assert math.isclose(expected, want, rel_tol=c.answer.tolerance / 10 or 1e-9), (check_id, d.params)
            assert is_correct(c, repr(want), d), (check_id, d.params)


def test_the_classic_wrong_answers_are_rejected_with_their_why():
    for step_id in (OPTIMIZER, SCHEDULE):
        for c in COURSE.step(step_id).checks:
            for _, d, _ in drawn(step_id, c.id, learners=3) if c.params else []:
                for wrong in c.answer.wrong or []:
                    value = evaluate(wrong.formula, d.params) if wrong.formula else wrong.numeric
                    assert not is_correct(c, repr(value), d), (c.id, d.params, wrong.formula)
    direction = check(SCHEDULE, "clip-direction")
    assert all(o.why for i, o in enumerate(direction.options) if chr(ord("a") + i) != direction.answer.choice)


@functools.cache
def _reference():
    spec = importlib.util.spec_from_file_location("adamw_reference", COURSE.content_root / COURSE.step(SCHEDULE).solution)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rubric_accepts_its_own_explanation_and_rejects_a_vague_answer():
    c = check(OPTIMIZER, "gain-decay")
    assert is_correct(c, c.explain)
    assert is_correct(c, "Decay shrinks it towards zero, but it is a temperature the softmax needs at about 14.")
    assert not is_correct(c, "Because it makes training unstable.")
