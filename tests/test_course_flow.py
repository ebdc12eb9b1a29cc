"""A learner masters every Phase 1 step in order, through the CLI, and each mastery unlocks the next."""

import json
import shutil
import subprocess
import sys

from answering import answer_args


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, capture_output=True, text=True)


def test_every_phase1_step_masters_in_order_and_unlocks_the_next(course, tmp_path):
    assert cli("init", "ws", cwd=tmp_path).returncode == 0
    ws = tmp_path / "ws"
    steps = [s for s in course.steps if s.phase == 1]
    for i, step in enumerate(steps):
        states = {s["id"]: s["state"] for s in json.loads(cli("list", "--json", cwd=ws).stdout)["steps"]}
        assert states[step.id] == "available", (step.id, states)
        assert all(states[s.id] == "locked" for s in steps[i + 1 :])
        shutil.copy(course.content_root / step.solution, ws / step.exercise)
        result = cli("check", step.id, "--json", *answer_args(ws, step), cwd=ws)
        data = json.loads(result.stdout)
        assert result.returncode == 0 and data["state"] == "mastered", (step.id, data["status"], data["checks_pending"])
    progress = json.loads(cli("progress", "--json", cwd=ws).stdout)
    phase1 = progress["phases"][0]
    assert (phase1["mastered"], phase1["total"], phase1["attempts"]) == (len(steps), len(steps), len(steps))
