"""How trustworthy the grader's budget measurements are on this machine.

For the same code on both sides the latency ratio should be 1.0: its spread over repeated
measurements must stay well inside a 1.5x budget, or budgets would flip between runs. Also prints
what measuring costs: the time of a budget check against the time of the calls it makes, and the
peak-memory measure against a known allocation.

Usage: python benchmarks/bench_budget.py [--trials 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mentor.grading.budget import Budgets, compare_speed, peak_bytes


def workloads():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 256))
    logits = rng.normal(size=(64, 1000))
    text = list(rng.integers(0, 256, size=5000))
    yield "matmul 256x256 (numpy)", lambda: x @ x
    yield "softmax 64x1000 (numpy)", lambda: np.exp(logits - logits.max(1, keepdims=True)).sum()
    yield "pair counts, 5k ints (python)", lambda: len(set(zip(text, text[1:])))
    try:
        import torch

        t = torch.randn(256, 256)
        yield "matmul 256x256 (torch)", lambda: t @ t
    except ImportError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()

    print(f"latency ratio of identical code, {args.trials} trials of 7 alternating repetitions each")
    print(f"{'workload':32} {'min':>6} {'median':>7} {'p95':>6} {'max':>6}  flips a 1.5x budget?")
    for name, fn in workloads():
        ratios = sorted(a / b for a, b in (compare_speed(fn, fn, repeat=7) for _ in range(args.trials)))
        p95 = ratios[int(0.95 * (len(ratios) - 1))]
        print(f"{name:32} {ratios[0]:6.2f} {statistics.median(ratios):7.2f} {p95:6.2f} {ratios[-1]:6.2f}  {'YES' if ratios[-1] > 1.5 else 'no'}")

    fn = dict(workloads())["matmul 256x256 (numpy)"]
    calls = 2 * (1 + 7)  # warm-up and repetitions, both sides
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    bare = time.perf_counter() - start
    start = time.perf_counter()
    Budgets({}).latency(fn, fn)
    measured = time.perf_counter() - start
    print(f"\nlatency check: {measured / bare:.2f}x the time of its {calls} calls made directly (1.0 = no overhead)")

    mb = 64
    peaks = [peak_bytes(lambda: np.ones(mb * 2**20 // 8).sum()) / 2**20 for _ in range(10)]
    print(f"peak memory of a {mb} MiB allocation, 10 trials: min {min(peaks):.1f}, max {max(peaks):.1f} MiB")


if __name__ == "__main__":
    main()
