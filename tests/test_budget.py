"""Speed budgets compare with the reference in the same run, and really fail on slow code."""

import time

import pytest

from mentor.grading.budget import expect_within_ratio
from mentor.grading.expect import Misconception


def fast():
    return sum(range(2000))


def slow():
    time.sleep(0.01)
    return sum(range(2000))


def test_code_as_fast_as_the_reference_is_within_budget():
    assert expect_within_ratio(fast, fast, 3.0, "too slow") < 3.0


def test_deliberately_slow_code_fails_with_measured_and_allowed_figures():
    with pytest.raises(Misconception) as e:
        expect_within_ratio(slow, fast, 3.0, "a Python loop where a vectorised call belongs")
    assert "a Python loop" in e.value.why and "allowed 3.00x" in e.value.diff and "ratio" in e.value.diff
