"""How strong the graders are: the mutation score of every step (see mentor/mutate.py).

Each step's reference is mutated where the learner writes code; every mutant is graded like a
learner's file. kill_rate = killed / (generated - equivalent), per step and in total. Verdicts are
kept in the mutation cache (MENTOR_CACHE_DIR or ~/.cache/mentor), so a second run of unchanged
steps takes seconds and an interrupted run resumes; --fresh grades everything again.

Usage: python benchmarks/bench_mutation.py [--json] [--step ID ...] [--workers 2] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mentor.curriculum import load_course
from mentor.mutate import default_cache_path, mutate_course, totals
from mentor.paths import content_root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--step", action="append", default=[], help="only this step (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="ignore kept verdicts")
    args = parser.parse_args()

    course = load_course(content_root())
    steps = [s for s in course.steps if not args.step or s.id in args.step]
    cache = default_cache_path()
    if args.fresh and cache.exists():
        cache.unlink()
    start = time.perf_counter()

    def on_step(step, n):
        print(f"{step.id}: {n} mutants", file=sys.stderr, flush=True)

    scores = mutate_course(course, steps, cache_path=cache, workers=args.workers, on_step=on_step)
    keys = ("generated", "equivalent", "killed", "survived", "unjudged", "kill_rate")
    per_step = {s.step_id: {k: getattr(s, k) for k in keys} | ({"error": s.error} if s.error else {}) for s in scores}
    result = {"steps": per_step, "total": totals(scores), "seconds": round(time.perf_counter() - start, 1)}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{'step':30} {'generated':>9} {'equivalent':>10} {'killed':>7} {'survived':>8} {'unjudged':>8} {'kill rate':>9}")
    for step_id, row in [*per_step.items(), ("total", result["total"])]:
        rate = "n/a" if row["kill_rate"] is None else f"{row['kill_rate']:.1%}"
        print(f"{step_id:30} {row['generated']:9} {row['equivalent']:10} {row['killed']:7} {row['survived']:8} {row['unjudged']:8} {rate:>9}")
    for s in scores:
        for survivor in s.survivors:
            print(f"\n{s.step_id} survived: {survivor['key']}\n{survivor['diff']}")
    print(f"\n{result['seconds']} s")


if __name__ == "__main__":
    main()
