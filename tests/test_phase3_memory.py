"""Grader behaviours of p3.memory.training that the catalogue run does not show: the measured
training step can fail on its own (not only the hand counts), and its message carries the figures."""

from pathlib import Path

import pytest

from mentor.authoring import compose_submission, grade_file
from mentor.curriculum import load_course
from mentor.paths import content_root

COURSE = load_course(content_root())
pytestmark = pytest.mark.skipif(
    "p3.memory.training" not in {s.id for s in COURSE.steps}, reason="Phase 3 is not listed in the course"
)

NO_ACTIVATIONS = '''
def activation_elements(config, batch, seq):
    return 0  # "memory is the model": weights, gradients and states only
'''


def test_the_measured_step_rejects_a_total_without_activations(tmp_path: Path):
    step = COURSE.step("p3.memory.training")
    result = grade_file(COURSE, step, compose_submission(COURSE, step, tmp_path, NO_ACTIVATIONS), tmp_path)
    measured = next(t for t in result.tests if t.name == "test_total_predicts_a_measured_training_step")
    assert measured.outcome == "failed", measured
    assert "does not predict a real training step" in measured.message, measured.message
    assert "measured" in measured.diff and "ratio" in measured.diff, measured.diff
