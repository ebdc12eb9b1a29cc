"""Every grader accepts its reference, reads the untouched stub as not started, and rejects each
known-wrong implementation in tests/known_wrong/<step>/ with the message of its misconception.

Grader runs are subprocesses that mostly wait on imports, so they are graded two at a time, in two
batches; each test then asserts on its own result. The everyday suite grades every step's reference,
stub, a learner's copy and the first case of its catalogue; the rest of the catalogue, the correct
alternatives and every grader run of Phase 4 on, where graders train models, are the slow sweep
(`pytest -m slow`, run by CI).
"""

import functools
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mentor.authoring import (
    compose_alternative,
    compose_known_wrong,
    compose_submission,
    correct_alternatives,
    grade_file,
    known_wrong_cases,
    pristine_stub_file,
    rejection_matches,
)
from mentor.curriculum import load_course
from mentor.paths import content_root

COURSE = load_course(content_root())
STEPS = COURSE.steps
CASES = [(s, c) for s in STEPS for c in known_wrong_cases(COURSE, s)]
ALTERNATIVES = [(s, path) for s in STEPS for path in correct_alternatives(COURSE, s)]
FIRST = {s.id: cases[0].name for s in STEPS if (cases := known_wrong_cases(COURSE, s))}  # in the everyday suite
MIN_KNOWN_WRONG = 3
WORKERS = 2


# A learner's correct file is not the reference file, so its pass is confirmed against the sealed
# record of the reference's run (mentor/grading/seal.py). Disturbing the global random generators at
# import proves no grader's expected values hang on state the learner's code may touch.
DISTURB_RNG = """
import numpy as _np
_np.random.seed(12345); _np.random.rand(7)
try:
    import torch as _torch
    _torch.manual_seed(999); _torch.randn(13)
except ImportError:
    pass
"""


def _grade(job):
    step, case = job
    with tempfile.TemporaryDirectory(prefix="mentor-test-") as tmp:
        if case == "solution":
            return grade_file(COURSE, step, COURSE.content_root / step.solution, Path(tmp))
        if case == "learner-copy":
            return grade_file(COURSE, step, compose_submission(COURSE, step, Path(tmp), DISTURB_RNG), Path(tmp))
        if case == "stub":
            return grade_file(COURSE, step, pristine_stub_file(COURSE, step, Path(tmp)), Path(tmp))
        if isinstance(case, Path):
            return grade_file(COURSE, step, compose_alternative(COURSE, step, case, Path(tmp)), Path(tmp))
        return grade_file(COURSE, step, compose_known_wrong(COURSE, step, case, Path(tmp)), Path(tmp))


TRAINING_PHASES = 4  # from here graders train models (15-110 s a run on 2 cores): all of it is the slow sweep


def _everyday(step, case) -> bool:
    if step.phase >= TRAINING_PHASES:
        return False
    return isinstance(case, str) or (not isinstance(case, Path) and FIRST.get(step.id) == case.name)


def _jobs() -> list:
    jobs = [(s, "solution") for s in STEPS] + [(s, "stub") for s in STEPS] + [(s, "learner-copy") for s in STEPS]
    return jobs + CASES + ALTERNATIVES


@functools.cache
def _batch(everyday: bool) -> dict:
    jobs = [(s, c) for s, c in _jobs() if _everyday(s, c) == everyday]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        graded = list(pool.map(_grade, jobs))
    return {(s.id, _case_name(c)): r for (s, c), r in zip(jobs, graded)}


class _Results:
    """results()[step_id, case]: graded with the rest of its batch on first use."""

    def __getitem__(self, key):
        batch = _batch(True)
        return batch[key] if key in batch else _batch(False)[key]


def results() -> _Results:
    return _Results()


def _slow_step(step, case: str):
    return pytest.param(step, id=step.id, marks=() if _everyday(step, case) else (pytest.mark.slow,))


def _slow_unless_first(step, case):
    marks = () if _everyday(step, case) else (pytest.mark.slow,)
    return pytest.param(step, case, id=f"{step.id}/{case.name}", marks=marks)


def _case_name(case) -> str:
    if isinstance(case, str):
        return case
    return f"correct:{case.stem}" if isinstance(case, Path) else case.name


@pytest.mark.parametrize("step", [_slow_step(s, "solution") for s in STEPS])
def test_reference_solution_passes(step):
    result = results()[step.id, "solution"]
    assert result.status == "passed", [(t.name, t.message, t.diff) for t in result.tests] or result.output


@pytest.mark.parametrize("step", [_slow_step(s, "learner-copy") for s in STEPS])
def test_a_correct_learner_file_is_confirmed_against_the_sealed_reference_run(step):
    result = results()[step.id, "learner-copy"]
    assert result.status == "passed", [(t.name, t.kind, t.message) for t in result.tests] or result.output


@pytest.mark.parametrize("step", [_slow_step(s, "stub") for s in STEPS])
def test_untouched_stub_reads_as_not_started(step):
    result = results()[step.id, "stub"]
    assert result.status == "not_started", (result.status, result.message, result.output)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.id)
def test_every_step_keeps_a_catalogue_of_known_wrong_implementations(step):
    assert len(known_wrong_cases(COURSE, step)) >= MIN_KNOWN_WRONG


@pytest.mark.parametrize("step,case", [_slow_unless_first(s, c) for s, c in CASES])
def test_known_wrong_implementation_is_rejected_with_its_misconception(step, case):
    result = results()[step.id, case.name]
    assert result.status == "failed", (result.status, result.message)
    messages = [t.message for t in result.tests if t.outcome != "passed"]
    assert rejection_matches(result, case.misconception), messages


@pytest.mark.slow
@pytest.mark.parametrize("step,path", ALTERNATIVES, ids=[f"{s.id}/{p.stem}" for s, p in ALTERNATIVES])
def test_a_correct_alternative_implementation_passes(step, path):
    result = results()[step.id, f"correct:{path.stem}"]
    assert result.status == "passed", [(t.name, t.message, t.diff) for t in result.tests if t.outcome != "passed"]


NO_MASK = """
def causal_attention(q, k, v):  # forgets the mask: every position sees the future
    return scaled_dot_product_attention(q, k, v)
"""


UNSCALED = """
def scaled_dot_product_attention(q, k, v, mask=None):  # forgets 1/sqrt(d_k): the softmax saturates
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
"""


def test_causal_masking_names_a_broken_attention_from_the_step_before(tmp_path):
    step = COURSE.step("p2.attention.causal")
    submission = compose_submission(COURSE, step, tmp_path)
    submission.write_text(submission.read_text() + UNSCALED)
    result = grade_file(COURSE, step, submission, tmp_path)
    messages = {t.name: t.message for t in result.tests if t.outcome != "passed"}
    assert result.status == "failed" and messages["test_your_sdpa_agrees"].startswith(
        "your scaled_dot_product_attention from p2.attention.sdpa disagrees with the reference: fix it first "
        "(mentor check p2.attention.sdpa). Causal attention applies its mask through it."
    ), messages


@pytest.mark.parametrize("step_id", ["p2.attention.mha", "p2.attention.block", "p2.gpt.model"])
def test_a_broken_earlier_step_is_named_before_this_one(step_id, tmp_path):
    """A step built on earlier ones says which earlier step to fix, here causal masking in attention.py."""
    step = COURSE.step(step_id)
    submission = compose_submission(COURSE, step, tmp_path)
    attention = tmp_path / "attention.py"
    attention.write_text(attention.read_text() + NO_MASK)
    result = grade_file(COURSE, step, submission, tmp_path)
    messages = [t.message for t in result.tests if t.outcome != "passed"]
    assert result.status == "failed" and any(
        m.startswith("your causal_attention from p2.attention.causal disagrees with the reference: fix it first")
        for m in messages
    ), messages
