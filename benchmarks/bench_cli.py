"""How fast the everyday commands are, as ratios to baselines measured in the same run.

Targets: `next`, `list`, `progress` within 1.5x of `python -c "import typer, rich"`;
`mentor check` on a Phase 1 step within 1.2x of running the same grader with bare pytest.
Runs are interleaved so that load on a shared machine hits both sides alike; medians are shown.
"(cold)" rows are the first run after something changed: no rendered screen to reuse.
Every command runs with compiled bytecode cached (in a temporary PYTHONPYCACHEPREFIX), as after a
pip install: with PYTHONDONTWRITEBYTECODE set, mentor's own modules, unlike the installed libraries
of the baselines, would be compiled again on every run.

`--only watch`: a save's re-check in `mentor watch` (from rewriting the file to the verdict printed,
on the warm grader) against a cold `mentor check` of the same step, in alternation; the goal is
`watch_recheck_s <= 0.25 * cold_check_s` on a torch step.

Usage: python benchmarks/bench_cli.py [--rounds 15] [--step p1.neuron.forward] [--only check] [--json]
       python benchmarks/bench_cli.py --only watch --step p2.attention.mha --json
"""

from __future__ import annotations

import argparse
import json
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


def timed(cmd: list[str], cwd: Path, env: dict | None = None, cold: bool = False) -> float:
    if cold:  # what the first run after a change pays: no rendered screen to reuse
        for screen in (cwd / ".mentor" / "cache").glob("screen-*"):
            screen.unlink()
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def unlock(ws: Path, course, step) -> None:
    """Solve every step up to `step` and record those before it as mastered, as a learner would have."""
    from mentor.grading.runner import GradeResult
    from mentor.progress import ProgressStore

    store = ProgressStore(ws / "progress.db")
    for earlier in course.steps[: course.steps.index(step) + 1]:
        shutil.copy(course.content_root / earlier.solution, ws / earlier.exercise)
    for earlier in course.steps[: course.steps.index(step)]:
        store.record_attempt(earlier.id, GradeResult("passed", "set up by the benchmark"))
        for check in earlier.checks:
            store.record_answer(earlier.id, check.id, "set up by the benchmark", True)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--step", default="p1.neuron.forward")
    parser.add_argument("--only", choices=("everyday", "cold", "check", "watch"), help="time one group of commands")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()

    course = load_course(content_root())
    step = course.step(args.step)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        ws = Path(tmp) / "ws"
        subprocess.run([py, "-m", "mentor", "init", str(ws)], check=True, stdout=subprocess.DEVNULL)
        unlock(ws, course, step)
        grader_env = dict(
            os.environ,
            **GRADER_ENV,
            MENTOR_SUBMISSION=str(ws / step.exercise),
            MENTOR_REFERENCE=str(course.content_root / step.solution),
        )
        cli = [py, "-m", "mentor"]
        baseline = ([py, "-c", "import typer, rich"], None, False)
        everyday = {  # name: (command, environment, cold)
            "import typer, rich": baseline,
            "mentor next": ([*cli, "next"], None, False),
            "mentor list": ([*cli, "list"], None, False),
            "mentor progress": ([*cli, "progress"], None, False),
        }
        first_runs = {
            "import typer, rich (2)": baseline,
            "mentor next (cold)": ([*cli, "next"], None, True),
            "mentor list (cold)": ([*cli, "list"], None, True),
            "mentor progress (cold)": ([*cli, "progress"], None, True),
        }
        first = subprocess.run([*cli, "check", step.id], cwd=ws, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if first.returncode != 0:  # timing a refusal or a failure would say nothing
            sys.exit(f"mentor check {step.id} did not pass in the benchmark's workspace:\n{first.stdout}{first.stderr}")
        grading = {
            "bare pytest grader": (pytest_command(step.grader), grader_env, False),
            "mentor check": ([*cli, "check", step.id], None, False),
        }
        if args.only == "watch":
            report_watch(ws, step, cli, args.rounds, args.json)
            return
        groups = {"everyday": everyday, "cold": first_runs, "check": grading}
        if args.only:
            groups = {args.only: groups[args.only]}
        times: dict[str, list[float]] = {}
        for group in groups.values():  # cold runs and checks would spoil the warm ones
            for cmd, env, cold in group.values():  # warm the OS caches once
                timed(cmd, ws, env, cold)
            for _ in range(args.rounds):
                for name, (cmd, env, cold) in group.items():
                    times.setdefault(name, []).append(timed(cmd, ws, env, cold))

    med = {name: statistics.median(t) for name, t in times.items()}
    if args.json:
        print(json.dumps({name: round(m, 4) for name, m in med.items()}))
        return
    print(f"{'command':22} {'median s':>9} {'ratio':>7}  target")
    for group_name, group in groups.items():
        limit = "1.20" if group_name == "check" else "1.50"
        base_name = next(iter(group))
        for name in group:
            target = "" if name == base_name else f"<= {limit}"
            print(f"{name:22} {med[name]:9.3f} {med[name] / med[base_name]:7.2f}  {target}")


class Watching:
    """`mentor watch STEP` in a subprocess, its output read line by line."""

    def __init__(self, cli: list[str], ws: Path, step):
        self.proc = subprocess.Popen(
            [*cli, "watch", step.id], cwd=ws, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            bufsize=0,  # unbuffered: select() sees every line that arrived, none waits in a read-ahead buffer
        )
        self.exercise = ws / step.exercise

    def until_watching(self, timeout: float = 120.0) -> None:
        """Read output up to the line that says the watch is waiting again (the verdict is above it)."""
        import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith(b"Watching "):
                    return
        sys.exit("mentor watch did not print its verdict in time")

    def recheck(self) -> float:
        """Seconds from a save (the file rewritten as it is) to the verdict."""
        source = self.exercise.read_bytes()
        start = time.perf_counter()
        self.exercise.write_bytes(source)
        self.until_watching()
        return time.perf_counter() - start

    def close(self) -> None:
        self.proc.stdin.write(b"q")
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def report_watch(ws: Path, step, cli: list[str], rounds: int, as_json: bool) -> None:
    watching = Watching(cli, ws, step)
    try:
        watching.until_watching()  # the first check, which may run before the warm grader is up
        time.sleep(1.0)
        watching.recheck()  # warm the OS caches, as for the cold side below
        timed([*cli, "check", step.id], ws)
        cold, warm = [], []
        for _ in range(rounds):
            cold.append(timed([*cli, "check", step.id], ws))
            warm.append(watching.recheck())
    finally:
        watching.close()
    med = {"cold_check_s": statistics.median(cold), "watch_recheck_s": statistics.median(warm)}
    if as_json:
        print(json.dumps({k: round(v, 4) for k, v in med.items()}))
        return
    print(f"{'command':22} {'median s':>9} {'ratio':>7}  target")
    print(f"{'mentor check':22} {med['cold_check_s']:9.3f} {1:7.2f}")
    print(f"{'mentor watch, a save':22} {med['watch_recheck_s']:9.3f} {med['watch_recheck_s'] / med['cold_check_s']:7.2f}  <= 0.25")


if __name__ == "__main__":
    main()
