"""How fast the everyday commands are, as ratios to baselines measured in the same run.

Targets: `next`, `list`, `progress` within 1.5x of `python -c "import typer, rich"`;
`mentor check` on a Phase 1 step within 1.2x of running the same grader with bare pytest.
Runs are interleaved so that load on a shared machine hits both sides alike; medians are shown.

Usage: python benchmarks/bench_cli.py [--rounds 15] [--step p1.neuron.forward]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mentor.curriculum import load_course
from mentor.grading.runner import GRADER_ENV, pytest_command
from mentor.paths import content_root


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--step", default="p1.neuron.forward")
    args = parser.parse_args()

    course = load_course(content_root())
    step = course.step(args.step)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([py, "-m", "mentor", "init", str(ws)], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(course.content_root / step.solution, ws / step.exercise)
        grader_env = dict(
            os.environ,
            **GRADER_ENV,
            MENTOR_SUBMISSION=str(ws / step.exercise),
            MENTOR_REFERENCE=str(course.content_root / step.solution),
        )
        commands = {
            "import typer, rich": ([py, "-c", "import typer, rich"], None),
            "mentor next": ([py, "-m", "mentor", "next"], None),
            "mentor list": ([py, "-m", "mentor", "list"], None),
            "mentor progress": ([py, "-m", "mentor", "progress"], None),
            "bare pytest grader": (pytest_command(step.grader), grader_env),
            "mentor check": ([py, "-m", "mentor", "check", step.id], None),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for name, (cmd, env) in commands.items():  # warm caches once
            timed(cmd, ws, env)
        for _ in range(args.rounds):
            for name, (cmd, env) in commands.items():
                times[name].append(timed(cmd, ws, env))

    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"{'command':22} {'median s':>9} {'ratio':>7}  target")
    base, grader = med["import typer, rich"], med["bare pytest grader"]
    for name in ("import typer, rich", "mentor next", "mentor list", "mentor progress"):
        print(f"{name:22} {med[name]:9.3f} {med[name] / base:7.2f}  {'<= 1.50' if name != 'import typer, rich' else ''}")
    for name in ("bare pytest grader", "mentor check"):
        print(f"{name:22} {med[name]:9.3f} {med[name] / grader:7.2f}  {'<= 1.20' if name == 'mentor check' else ''}")


if __name__ == "__main__":
    main()
