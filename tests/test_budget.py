"""Speed budgets compare with the reference in the same run, and really fail on slow code."""

import time

import pytest

from mentor.grading.budget import expect_within_ratio
from mentor.grading.expect import Misconception


def fast():
    return sum(range(2000))


def slow():
    return sum(range(200_000))  # 100x the work, on every clock


def test_code_as_fast_as_the_reference_is_within_budget():
    assert expect_within_ratio(fast, fast, 3.0, "too slow") < 3.0


def test_deliberately_slow_code_fails_with_measured_and_allowed_figures():
    with pytest.raises(Misconception) as e:
        expect_within_ratio(slow, fast, 3.0, "a Python loop where a vectorised call belongs")
    assert "a Python loop" in e.value.why and "allowed 3.00x" in e.value.diff and "ratio" in e.value.diff


def test_a_busy_machine_stretching_one_side_wall_time_fails_nobody(monkeypatch):
    """Another process preempting the learner's runs inflates only wall time: the CPU-time ratio decides."""
    import mentor.grading.budget as budget

    real, calls = time.perf_counter, {"n": 0}

    def preempted_wall_clock():  # every second reading ends a learner run; add 50 ms of someone else's work to it
        calls["n"] += 1
        return real() + 0.05 * ((calls["n"] + 2) // 4)

    monkeypatch.setattr(budget, "_perf_counter", preempted_wall_clock)
    mine, theirs = budget.compare_speed(fast, fast, repeat=7)
    assert mine / theirs < 2.0
    monkeypatch.setattr(budget, "_cuda_in_use", lambda: True)  # device work: CPU time says nothing, wall time only
    calls["n"] = 0
    mine, theirs = budget.compare_speed(fast, fast, repeat=7)
    assert mine / theirs > 10


def test_slow_code_is_slow_on_both_clocks_and_still_fails():
    from mentor.grading.budget import compare_speed

    mine, theirs = compare_speed(slow, fast, repeat=5)
    assert mine / theirs > 20


# -- the `budget` fixture inside a real grader process -----------------------------------------------
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from mentor.grading.runner import GradeRequest, grade  # noqa: E402
from mentor.paths import GRADERS_DIR  # noqa: E402

PROBE = '''
import numpy as np

def test_latency(submission, reference, budget):
    """within the latency budget"""
    x = np.random.default_rng(0).normal(size=20000)
    budget.latency(lambda: submission.total(x), lambda: reference.total(x), why="total is slow")

def test_memory(submission, reference, budget):
    """within the memory budget"""
    x = np.random.default_rng(0).normal(size=(1000,))
    budget.peak_memory(lambda: submission.outer_sum(x), lambda: reference.outer_sum(x), why="outer_sum materialises too much")
'''
REFERENCE = '''
import numpy as np

def total(x):
    return float(np.sum(x))

def outer_sum(x):
    return float(x.sum() * len(x) * 2)  # sum_ij (x_i + x_j) without the (N, N) matrix
'''


@pytest.fixture
def probe_grader():
    path = GRADERS_DIR / "_probe" / "test_budget_probe.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(PROBE)
    yield "_probe/test_budget_probe.py"
    path.unlink()
    path.parent.rmdir()


def grade_probe(tmp_path, grader, source, limits):
    ref, sub = tmp_path / "ref" / "probe.py", tmp_path / "probe.py"
    ref.parent.mkdir()
    ref.write_text(REFERENCE)
    sub.write_text(source)
    return grade(GradeRequest(grader, sub, ref, tmp_path, profile="cpu-8gb", budget=limits))


def test_reference_speed_and_memory_pass_and_are_recorded(tmp_path, probe_grader):
    result = grade_probe(tmp_path, probe_grader, REFERENCE, {"latency_ratio": 3.0, "peak_memory_ratio": 2.0})
    assert result.status == "passed", [(t.name, t.message, t.diff) for t in result.tests]
    budgets = {m["budget"]: m for m in result.measurements}
    assert set(budgets) == {"latency_ratio", "peak_memory_ratio"}
    assert all(m["ok"] and m["profile"] == "cpu-8gb" for m in budgets.values())


def test_slow_and_memory_hungry_code_fails_each_budget_with_figures(tmp_path, probe_grader):
    hungry = '''
import numpy as np

def total(x):
    s = 0.0
    for v in x:  # a Python loop: ~100x slower than np.sum
        s += v
    return s

def outer_sum(x):
    return float((x[:, None] + x[None, :]).sum())  # an (N, N) intermediate: 8 MB for N=1000
'''
    result = grade_probe(tmp_path, probe_grader, hungry, {"latency_ratio": 3.0, "peak_memory_ratio": 2.0})
    failing = {t.name: t for t in result.tests if t.outcome != "passed"}
    assert result.status == "failed" and set(failing) == {"test_latency", "test_memory"}
    assert "latency_ratio" in failing["test_latency"].diff and "allowed at most 3" in failing["test_latency"].diff
    assert "peak_memory_ratio" in failing["test_memory"].diff and "usual cause" in failing["test_memory"].diff
    assert not any(m["ok"] for m in result.measurements)


def test_memory_that_grows_quadratically_fails_the_scaling_budget():
    import numpy as np

    from mentor.grading.budget import Budgets

    seen = []
    b = Budgets({"memory_scaling": 2.2}, "cpu-8gb", seen.append)
    b.memory_scaling(lambda n: (lambda: np.ones(n * 1000).sum()), 2000)  # linear: passes
    with pytest.raises(Misconception) as e:
        b.memory_scaling(lambda n: (lambda: np.ones((n, n)).sum()), 1000)  # (T, T): 4x at 2T
    assert "memory_scaling" in e.value.diff and [m["ok"] for m in seen] == [True, False]


def test_throughput_below_the_minimum_fails():
    from mentor.grading.budget import Budgets

    b = Budgets({"throughput_ratio": 0.5}, "cpu-8gb")
    assert b.throughput(fast, fast, units=2000) > 0.5
    with pytest.raises(Misconception) as e:
        b.throughput(slow, fast, units=2000, why="tokens/s too low")
    assert "at least 0.5" in e.value.diff
