"""Speed budgets inside graders: the learner's code against the reference, measured in the same run.

A budget is a ratio, never an absolute time: the learner's machine (and a shared CI machine) may be
slow or busy, but both sides see the same conditions. Each side is warmed up, then timed several
times in alternation, and the medians are compared.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from mentor.grading.expect import Misconception

_perf_counter = time.perf_counter  # bound before learner code runs


def median_seconds(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = _perf_counter()
        fn()
        samples.append(_perf_counter() - start)
    return statistics.median(samples)


def compare_speed(learner: Callable[[], object], reference: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Median seconds of (learner, reference), timed in alternation after one warm-up each."""
    learner(), reference()
    mine, theirs = [], []
    for _ in range(repeat):
        start = _perf_counter()
        learner()
        mine.append(_perf_counter() - start)
        start = _perf_counter()
        reference()
        theirs.append(_perf_counter() - start)
    return statistics.median(mine), statistics.median(theirs)


def expect_within_ratio(
    learner: Callable[[], object], reference: Callable[[], object], max_ratio: float, why: str, repeat: int = 5
) -> float:
    """The learner's median time is at most `max_ratio` times the reference's; returns the ratio."""
    mine, theirs = compare_speed(learner, reference, repeat)
    ratio = mine / max(theirs, 1e-9)
    if ratio > max_ratio:
        raise Misconception(
            why,
            f"latency budget: yours {mine * 1e3:.2f} ms, reference {theirs * 1e3:.2f} ms, "
            f"ratio {ratio:.2f}x > allowed {max_ratio:.2f}x",
        )
    return ratio
