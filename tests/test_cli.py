"""The CLI as a learner and a script use it: in-process through Typer's runner and as real subprocesses."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.content import copy_shipped, shipped_files
from mentor.paths import content_root

from answering import answer_args

FIRST = "p1.neuron.forward"
runner = CliRunner()


def first_answers(ws: Path) -> list[str]:
    """Right answers to the first step's checks, for this workspace's drawn numbers."""
    return answer_args(ws, _course().step(FIRST))


def mentor(*args: str):
    return runner.invoke(app, list(args))


def solve(ws: Path, step_id: str) -> None:
    step = next(s for s in _course().steps if s.id == step_id)
    shutil.copy(content_root() / step.solution, ws / step.exercise)


def _course():
    from mentor.curriculum import load_course

    return load_course(content_root())


def test_init_creates_stubs_marker_and_an_empty_store(ws):
    assert (ws / "mentor.toml").is_file() and (ws / "progress.db").is_file()
    assert (ws / "exercises" / "phase1" / "neuron.py").read_text() == shipped_files(content_root(), ["exercises/phase1/neuron.py"])["exercises/phase1/neuron.py"].decode()
    assert not (ws / "solutions").exists()


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    result = mentor("init", str(tmp_path / "x"))
    assert result.exit_code == 2 and "not empty" in result.output


def test_next_shows_step_concept_task_file_and_command(ws):
    result = mentor("next")
    assert result.exit_code == 0
    for text in ("Phase 1", "A neuron's forward pass", "Your task", "exercises/phase1/neuron.py", "mentor check"):
        assert text in result.output


def test_outside_a_workspace_every_command_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for cmd in (["next"], ["list"], ["check"], ["progress"]):
        result = mentor(*cmd)
        assert result.exit_code == 2 and "mentor init" in result.output


def test_untouched_stub_reads_as_not_started(ws):
    result = mentor("check", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["passed"] is False and data["status"] == "not_started"
    assert data["id"] == FIRST and data["exercise"] == "exercises/phase1/neuron.py"


def test_failed_check_shows_the_misconception_and_the_values(ws):
    solve(ws, FIRST)
    path = ws / "exercises/phase1/neuron.py"
    path.write_text(path.read_text().replace("x @ w + b", "x @ w"))
    result = mentor("check")
    assert result.exit_code == 1
    assert "bias is missing" in result.output and "largest difference" in result.output
    assert "mentor hint" in result.output


def test_pass_and_answers_master_the_step_and_unlock_the_next(ws):
    solve(ws, FIRST)
    result = mentor("check", *first_answers(ws))
    assert result.exit_code == 0, result.output
    assert f"Mastered {FIRST}" in result.output
    steps = json.loads(mentor("list", "--json").output)["steps"]
    assert steps[0]["state"] == "mastered"
    if len(steps) > 1:
        assert steps[1]["state"] == "available" and "Unlocked" in result.output
        assert steps[1]["title"] in mentor("next").output


def test_a_pass_without_answers_leaves_the_checks_open(ws):
    solve(ws, FIRST)
    result = mentor("check")
    assert result.exit_code == 0 and "Reasoning checks still open" in result.output
    assert json.loads(mentor("list", "--json").output)["steps"][0]["state"] == "passed"


def test_a_wrong_answer_is_recorded_and_does_not_master(ws):
    solve(ws, FIRST)
    mentor("check")
    shape = next(a for a in first_answers(ws) if a.startswith("output-shape="))
    result = mentor("answer", FIRST, "--answer", "flops=1", "--answer", shape)
    assert "not quite" in result.output
    progress = json.loads(mentor("progress", "--json").output)
    assert progress["steps"][0]["state"] == "passed"
    assert progress["steps"][0]["checks_correct"] == ["output-shape"]
    assert len(progress["store"]["tables"]["answers"]) == 2


def test_answers_are_refused_before_the_grader_passes(ws):
    result = mentor("answer", FIRST, "--answer", "flops=16384")
    assert result.exit_code == 1 and "pass the grader first" in result.output


def test_malformed_answer_option_is_a_usage_error(ws):
    solve(ws, FIRST)
    assert mentor("check", "--answer", "nonsense").exit_code == 2
    assert mentor("check", "--answer", "flops=lots").exit_code == 2


def test_locked_step_cannot_be_checked(ws):
    steps = _course().steps
    if len(steps) < 2:
        pytest.skip("needs two steps")
    result = mentor("check", steps[1].id)
    assert result.exit_code == 1 and "locked" in result.output


def test_unknown_step_exits_2(ws):
    assert mentor("check", "no-such-step").exit_code == 2


def test_hints_come_tier_by_tier_and_are_recorded(ws):
    first = mentor("hint").output
    second = mentor("hint").output
    assert "Hint 1/3" in first and "Hint 2/3" not in first and "Hint 2/3" in second
    assert json.loads(mentor("progress", "--json").output)["phases"][0]["hints"] == 2


def test_ask_offline_uses_the_last_check_and_spends_a_hint_only_when_asked(ws):
    solve(ws, FIRST)
    path = ws / "exercises/phase1/neuron.py"
    path.write_text(path.read_text().replace("x @ w + b", "x @ w"))
    mentor("check")
    hints = lambda: json.loads(mentor("progress", "--json").output)["phases"][0]["hints"]  # noqa: E731
    result = mentor("ask", "--question", "why?")
    assert result.exit_code == 0 and "bias is missing" in result.output and "Hint 1/3:" not in result.output
    assert "`mentor ask --hint` or `mentor hint` shows hint 1/3 (recorded)" in result.output and hints() == 0
    result = mentor("ask", "--hint", "--question", "why?")
    assert result.exit_code == 0 and "bias is missing" in result.output and "Hint 1/3:" in result.output
    assert hints() == 1
    again = mentor("ask", "--question", "why?").output
    assert "Hint 1/3:" in again and "hint 2/3" in again and hints() == 1  # what was seen is shown again, free


def test_progress_reports_per_phase(ws):
    mentor("check")
    data = json.loads(mentor("progress", "--json").output)
    phase = data["phases"][0]
    assert phase["number"] == 1 and phase["attempts"] == 1 and phase["mastered"] == 0
    assert phase["total"] == len([s for s in _course().steps if s.phase == 1])
    assert "Progress" in mentor("progress").output


def test_reset_restores_the_stub_and_keeps_a_backup(ws):
    solve(ws, FIRST)
    mine = (ws / "exercises/phase1/neuron.py").read_text()
    result = mentor("reset", FIRST, "--yes")
    assert result.exit_code == 0
    assert "NotImplementedError" in (ws / "exercises/phase1/neuron.py").read_text()
    backups = list((ws / ".mentor" / "backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "neuron.py").read_text() == mine


def test_missing_exercise_file_says_how_to_restore_it(ws):
    (ws / "exercises/phase1/neuron.py").unlink()
    result = mentor("check")
    assert result.exit_code == 2 and f"mentor reset {FIRST}" in result.output


def test_solution_is_shown_only_after_mastery(ws):
    assert mentor("solution", FIRST).exit_code == 1
    solve(ws, FIRST)
    mentor("check", *first_answers(ws))
    result = mentor("solution", FIRST)
    assert result.exit_code == 0 and "def neuron_forward" in result.output


def test_hardware_names_a_profile(ws):
    data = json.loads(mentor("hardware", "--json").output)
    assert data["profile"] in ("cpu-8gb", "gpu-16gb") and data["machine"]["cores"] >= 1


def test_broken_course_content_is_one_clear_error(ws, tmp_path, monkeypatch):
    content = tmp_path / "content"
    copy_shipped(content_root(), content, ("curriculum", "exercises", "solutions"))
    path = content / "curriculum" / "phase1.yaml"
    path.write_text(path.read_text().replace("objective:", "objectiv:", 1))
    monkeypatch.setenv("MENTOR_CONTENT", str(content))
    result = mentor("next")
    assert result.exit_code == 2 and "phase1.yaml" in result.output and "Traceback" not in result.output


# -- as real subprocesses ----------------------------------------------------------------------
def cli(*args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, capture_output=True, text=True, **kw)


def test_python_dash_m_runs_the_whole_flow(tmp_path):
    assert cli("init", "ws", cwd=tmp_path).returncode == 0
    ws = tmp_path / "ws"
    assert cli("next", cwd=ws).returncode == 0
    failed = cli("check", "--json", cwd=ws)
    assert failed.returncode == 1 and json.loads(failed.stdout)["status"] == "not_started"
    solve(ws, FIRST)
    passed = cli("check", "--json", *first_answers(ws), cwd=ws)
    data = json.loads(passed.stdout)
    assert passed.returncode == 0 and data["passed"] and data["checks_pending"] == []
    assert json.loads(cli("list", "--json", cwd=ws).stdout)["steps"][0]["state"] == "mastered"


def test_commands_leave_fast_with_their_writes_kept_and_the_store_closed(ws):
    """The entry point skips the interpreter's teardown: output, exit code and store must all be whole."""
    assert cli("hint", cwd=ws).returncode == 0
    assert cli("check", cwd=ws).returncode == 1
    assert not (ws / "progress.db-wal").exists()  # closed, so the log was folded into the file
    listed = cli("list", cwd=ws)
    assert listed.returncode == 0 and _course().steps[-1].id in listed.stdout  # the whole table, flushed
    store = sqlite3.connect(ws / "progress.db")
    assert store.execute("select count(*) from hints").fetchone() == (1,)
    assert store.execute("select status from attempts").fetchall() == [("not_started",)]
    unknown = cli("check", "p9.nothing", cwd=ws)
    assert unknown.returncode == 2 and "unknown step" in unknown.stderr


def test_everyday_commands_do_not_import_numpy_or_torch(ws, modules_at_exit):
    for cmd in ("next", "list", "progress", "hint"):
        loaded = modules_at_exit(ws, cmd)
        assert "mentor.cli" in loaded and not {"numpy", "torch"} & loaded, cmd
        if cmd in ("list", "progress"):  # rendered (the first run in this workspace), without rich.table
            assert "mentor.ui" in loaded and "rich.table" not in loaded, cmd


def test_recording_an_attempt_does_not_scan_installed_packages(ws, modules_at_exit):
    # sqlite-utils looks for its plugins through every installed distribution's metadata unless
    # told not to: 15-30 ms on the path from the grader's end to the verdict.
    cli("list", cwd=ws)  # the course validated once and cached, as on every run after the first
    loaded = modules_at_exit(ws, "check")
    assert "mentor.progress" in loaded and "importlib.metadata" not in loaded
    assert json.loads(cli("progress", "--json", cwd=ws).stdout)["store"]["tables"]["attempts"]


def test_ctrl_c_during_check_stops_the_grader_and_records_an_interrupted_attempt(ws):
    path = ws / "exercises/phase1/neuron.py"
    path.write_text("import time\n\ndef neuron_forward(x, w, b, activation=None):\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-m", "mentor", "check"], cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Ctrl-C" in err
    attempts = json.loads(cli("progress", "--json", cwd=ws).stdout)["store"]["tables"]["attempts"]
    assert [a["status"] for a in attempts] == ["interrupted"]
    leftovers = subprocess.run(["pgrep", "-f", f"MENTOR_SUBMISSION={path}"], capture_output=True)
    assert leftovers.returncode == 1


def test_reasoning_checks_are_asked_interactively_in_a_terminal(ws):
    import pty
    import select

    from mentor.checks import right_answer
    from mentor.draws import draw, learner_id

    solve(ws, FIRST)
    step = _course().step(FIRST)
    flops, shape = step.checks[0], step.checks[1]
    learner = learner_id(ws / ".mentor")  # the same id the command will read
    retry = right_answer(flops, draw(flops, learner, FIRST, 1)).encode()  # after one wrong answer: new numbers
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", TERM="dumb")
    proc = subprocess.Popen([sys.executable, "-m", "mentor", "check"], cwd=ws, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""

    def read_until(text: bytes, timeout=60):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert text in seen, seen.decode(errors="replace")[-2000:]

    read_until(b"Reasoning check 1/3")
    read_until(b"Your answer")
    os.write(master, b"1\n")  # wrong first: the check's hint is shown, and it asks again with new numbers
    read_until(b"not quite")
    read_until(b"New numbers")
    os.write(master, retry + b"\n")
    read_until(b"Reasoning check 2/3")
    read_until(b"Your answer", timeout=10)
    os.write(master, right_answer(shape, draw(shape, learner, FIRST, 0)).encode() + b"\n")
    read_until(b"Reasoning check 3/3")
    read_until(b"Your answer", timeout=10)
    os.write(master, b"Without it the boundary always passes through the origin; b shifts it.\n")
    read_until(b"Mastered")
    assert proc.wait(timeout=30) == 0
    os.close(master)
    answers = json.loads(cli("progress", "--json", cwd=ws).stdout)["store"]["tables"]["answers"]
    assert [(a["check_id"], a["correct"]) for a in answers] == [("flops", 0), ("flops", 1), ("output-shape", 1), ("bias-role", 1)]


def test_free_text_checks_are_judged_by_their_rubric_offline(ws):
    from mentor.cli import _grade_answer
    from mentor.curriculum import Answer, Check

    check = Check(id="why-scale", ask="Why scale by 1/sqrt(d_k)?", answer=Answer(rubric=[["variance"], ["softmax", "saturat"]]))
    session = type("S", (), {"ws": type("W", (), {"root": ws})()})()
    right, detail = _grade_answer(session, check, "It keeps the variance of the scores at 1 so softmax does not saturate.")
    wrong, why = _grade_answer(session, check, "Because it is faster.")
    assert right and "All 2 required ideas" in detail
    assert not wrong and "not yet: idea 1, 2" in why


def test_progress_counts_tutor_questions_per_step(ws):
    mentor("ask", "--question", "where do I start?")
    data = json.loads(mentor("progress", "--json").output)
    assert data["steps"][0]["questions"] == 1 and data["phases"][0]["questions"] == 1
    assert "questions" in mentor("progress").output


def test_progress_moves_to_another_machine_with_restore(ws, tmp_path, monkeypatch):
    solve(ws, FIRST)
    mentor("check", *first_answers(ws))
    mentor("hint", FIRST)
    saved = tmp_path / "saved.json"
    saved.write_text(mentor("progress", "--json").output)
    other = tmp_path / "other"
    assert mentor("init", str(other)).exit_code == 0
    monkeypatch.chdir(other)
    result = mentor("restore", str(saved))
    assert result.exit_code == 0 and "1 attempts" in result.output
    steps = json.loads(mentor("list", "--json").output)["steps"]
    assert steps[0]["state"] == "mastered"
    before = json.loads(saved.read_text())["store"]["tables"]
    assert json.loads(mentor("progress", "--json").output)["store"]["tables"] == before
    again = mentor("restore", str(saved))  # refuses to mix two histories
    assert again.exit_code == 2 and "already holds progress" in again.output


def test_restore_refuses_a_broken_file_and_changes_nothing(ws, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "tables": {"attempts": [{"id": 1, "nonsense_column": 3}]}}')
    result = mentor("restore", str(bad))
    assert result.exit_code == 2 and "unchanged" in result.output
    assert json.loads(mentor("progress", "--json").output)["store"]["tables"]["attempts"] == []
    bad.write_text("not json")
    assert mentor("restore", str(bad)).exit_code == 2


def test_a_check_with_no_stdin_at_all_says_how_to_answer(ws):
    solve(ws, FIRST)
    proc = subprocess.run(
        [sys.executable, "-m", "mentor", "check"], cwd=ws, capture_output=True, text=True, preexec_fn=lambda: os.close(0)
    )
    assert proc.returncode == 0 and "Reasoning checks still open" in proc.stdout, proc.stderr


def test_an_answer_that_looks_like_markup_is_quoted_as_written(ws):
    """Learner input reaches the terminal as text: `[/oops]` is neither a crash nor a style tag."""
    solve(ws, FIRST)
    result = mentor("check", "--answer", "flops=[/oops]")
    assert result.exit_code == 2 and "'[/oops]' is not a number" in result.output


def test_the_learners_broken_line_is_shown_with_its_brackets(ws):
    path = ws / "exercises/phase1/neuron.py"
    path.write_text(path.read_text() + "\nbroken = x[i] [/b] (\n")
    result = mentor("check")
    assert result.exit_code == 1 and "broken = x[i] [/b] (" in result.output
