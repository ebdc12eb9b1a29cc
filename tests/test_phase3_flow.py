"""From the last Phase 2 step into Phase 3, as a learner on the CPU-only machine would go.

Phases 1 and 2 are recorded as mastered in a real progress.db (their own flow is proved in
test_course_flow.py); then every Phase 3 step is taken through the CLI as a subprocess: it is locked
until the step before is mastered, `mentor next` names it, a hint can be had, the reference graded with
`--target cpu-8gb` passes within that profile's memory cap and threads, the checks master it, and only
then is its solution shown.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from answering import answer_args

from mentor.checks import right_answer
from mentor.draws import draw, learner_id
from mentor.progress import ProgressStore


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, capture_output=True, text=True)


@dataclass
class Passed:
    """What the store keeps of a passing grader run."""

    status: str = "passed"
    passed: bool = True
    message: str = "All tests passed."
    duration_s: float = 1.0
    tests: list = field(default_factory=list)


def master_without_grading(ws, steps) -> None:
    store = ProgressStore(ws / "progress.db")
    learner = learner_id(ws / ".mentor")
    try:
        for step in steps:
            store.record_attempt(step.id, Passed())
            for check in step.checks:
                context = draw(check, learner, step.id, 0)
                store.record_answer(step.id, check.id, str(right_answer(check, context)), True)
    finally:
        store.close()


def words(text: str) -> str:
    """Text as words, whatever the panel's borders and line wrapping."""
    return " ".join(text.replace("│", " ").split())


def states(ws) -> dict:
    return {s["id"]: s["state"] for s in json.loads(cli("list", "--json", cwd=ws).stdout)["steps"]}


@pytest.mark.slow  # a whole phase through the CLI: the slow sweep
def test_phase3_follows_phase2_and_each_step_masters_on_the_cpu_profile(course, tmp_path):
    assert cli("init", "ws", cwd=tmp_path).returncode == 0
    ws = tmp_path / "ws"
    master_without_grading(ws, [s for s in course.steps if s.phase < 3])
    phase3 = [s for s in course.steps if s.phase == 3]
    assert len(phase3) >= 9
    for i, step in enumerate(phase3):
        now = states(ws)
        assert now[step.id] == "available" and all(now[s.id] == "locked" for s in phase3[i + 1 :]), (step.id, now)
        shown = words(cli("next", cwd=ws).stdout)
        assert words(step.title) in shown and step.exercise.split("/")[-1] in shown, shown
        assert cli("solution", step.id, cwd=ws).returncode != 0  # not before mastery
        hint = cli("hint", step.id, cwd=ws)
        assert hint.returncode == 0 and words(step.hints[0])[:30] in words(hint.stdout), hint.stdout
        shutil.copy(course.content_root / step.solution, ws / step.exercise)
        result = cli("check", step.id, "--json", "--target", "cpu-8gb", *answer_args(ws, step), cwd=ws)
        data = json.loads(result.stdout)
        assert result.returncode == 0 and data["state"] == "mastered", (step.id, data["status"], data.get("message"))
        assert cli("solution", step.id, cwd=ws).returncode == 0
    progress = json.loads(cli("progress", "--json", cwd=ws).stdout)
    third = next(p for p in progress["phases"] if p.get("number", 3) == 3 and p["total"] == len(phase3))
    assert third["mastered"] == len(phase3)
