"""The learner's daily loop: what their code printed, a hung check, a file Python cannot load, and the
everyday manners of the command line. Driven through Typer's runner, the grader itself and real subprocesses."""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.grading.runner import OUTPUT_SHOWN_BYTES, GradeRequest, grade
from mentor.grading.plugin import OUTPUT_KEPT
from mentor.paths import content_root

from answering import answer_args

FIRST = "p1.neuron.forward"
EXERCISE = "exercises/phase1/neuron.py"
GRADER = "phase1/test_neuron.py"
REFERENCE = content_root() / "solutions" / "phase1" / "neuron.py"
SOLUTION = REFERENCE.read_text()
runner = CliRunner()


def mentor(*args: str):
    return runner.invoke(app, list(args))


def cli(*args, cwd, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, capture_output=True, text=True, env=env, **kw)


def write(ws: Path, source: str) -> Path:
    path = ws / EXERCISE
    path.write_text(source)
    return path


def graded(tmp_path: Path, source: str, **limits):
    sub = tmp_path / "neuron.py"
    sub.write_text(source)
    return grade(GradeRequest(GRADER, sub, REFERENCE, tmp_path, **limits))


PRINTS_AND_WARNS = SOLUTION.replace(
    "    z = x @ w + b",
    "    print('shape of x', x.shape)\n    import warnings; warnings.warn('check the bias')\n    z = x @ w",
)


def _course():
    from mentor.curriculum import load_course

    return load_course(content_root())


def master_first(ws: Path) -> None:
    shutil.copy(REFERENCE, ws / EXERCISE)
    assert mentor("check", *answer_args(ws, _course().step(FIRST))).exit_code == 0


# -- 1. the learner's own output ------------------------------------------------------------------
def test_what_a_failing_test_printed_and_warned_is_shown_under_it(ws):
    write(ws, PRINTS_AND_WARNS)
    result = mentor("check")
    assert result.exit_code == 1
    failing = result.output.split("adds the bias exactly once")[1].split(" ✘ ")[0]
    assert "your code printed:" in failing and "│ shape of x (5, 3)" in failing
    assert "warning: UserWarning: check the bias (at exercises/phase1/neuron.py:" in failing


def test_what_a_passing_test_printed_is_shown_only_with_verbose(ws):
    write(ws, PRINTS_AND_WARNS)
    passing = "returns one output per example"
    plain = mentor("check").output.split(passing)[1].split(" ✔ ")[0]
    verbose = mentor("check", "-v").output.split(passing)[1].split(" ✔ ")[0]
    assert "shape of x" not in plain and "│ shape of x (5, 3)" in verbose


def test_check_json_carries_each_tests_output_and_warnings(ws):
    write(ws, PRINTS_AND_WARNS)
    tests = json.loads(mentor("check", "--json").output)["tests"]
    assert all("shape of x" in t["output"] for t in tests)
    assert all(w["message"] == "UserWarning: check the bias" and w["where"].endswith("neuron.py:8") for t in tests for w in t["warnings"])


def test_a_flood_of_output_is_capped_per_test_keeping_its_start_and_its_end(tmp_path):
    flood = SOLUTION.replace("    z = x @ w + b", "    print('first'); print('x' * 200_000); print('last')\n    z = x @ w + b")
    result = graded(tmp_path, flood)
    assert result.status == "passed"
    for t in result.tests:
        assert len(t.output) < OUTPUT_KEPT + 200 and t.output.startswith("first") and t.output.rstrip().endswith("last")
        assert "characters not shown" in t.output


def test_control_sequences_in_the_output_cannot_restyle_the_screen(ws):
    write(ws, SOLUTION.replace("    z = x @ w + b", "    print('\\x1b[2J\\x1b[31mred[/b]')\n    z = x @ w"))
    result = mentor("check")
    assert "\x1b" not in result.output and "│ red[/b]" in result.output


def test_tb_shows_the_learners_frames_outermost_first_and_never_the_graders(ws):
    write(ws, SOLUTION + "\n\ndef _inner(x):\n    return x.reshape(7, 7)\n\n\ndef neuron_forward(x, w, b, activation=None):\n    return _inner(x)\n")
    without = mentor("check").output
    shown = mentor("check", "--tb").output
    assert "outermost call first" not in without
    frames = shown.split("outermost call first:")[1].split(" ✘ ")[0]
    assert frames.index("in neuron_forward") < frames.index("in _inner") and "return x.reshape(7, 7)" in frames
    assert "test_neuron.py" not in shown and "grading" not in frames
    tb = json.loads(mentor("check", "--json").output)["tests"][0]["traceback"]
    assert [f["function"] for f in tb] == ["neuron_forward", "_inner"] and tb[1]["where"].endswith("neuron.py:12")


# -- 2. a hung check -------------------------------------------------------------------------------
LOOPS = SOLUTION + "\n\ndef neuron_forward(x, w, b, activation=None):\n    print('entering the loop')\n    n = 0\n    while n >= 0:\n        n += 1\n"
LOOP_LINES = {("14", "while n >= 0:"), ("15", "n += 1")}


def test_a_timeout_names_the_test_and_the_learners_line_that_was_running(tmp_path):
    result = graded(tmp_path, LOOPS, timeout_s=3)
    assert result.status == "timeout" and "returns one output per example" in result.message
    assert (result.where.rsplit(":", 1)[1], result.line) in LOOP_LINES  # either line of the loop, named as it is
    running = result.tests[0]
    assert running.kind == "timeout" and running.where == result.where and running.output == "entering the loop\n"
    assert all(t.message == "not run: the time limit came first" for t in result.tests[1:])


def test_a_timeout_in_native_code_still_names_the_line(tmp_path):
    blocking = SOLUTION + "\n\ndef neuron_forward(x, w, b, activation=None):\n    import time\n    time.sleep(600)\n"
    result = graded(tmp_path, blocking, timeout_s=3)
    assert result.status == "timeout" and result.where.endswith("neuron.py:13") and result.line == "time.sleep(600)"


def test_a_timeout_reads_on_screen_as_the_test_and_the_line(ws, tmp_path, monkeypatch):
    write(ws, LOOPS)
    (ws / "mentor.toml").read_text()
    from mentor import cli as cli_module

    monkeypatch.setattr(cli_module, "_grade_request", _with_timeout(cli_module._grade_request, 3))
    result = mentor("check")
    assert result.exit_code == 1
    assert re.search(rf"at {EXERCISE}:1[45]\b", result.output) and "still running at the time limit" in result.output
    assert "│ entering the loop" in result.output


def _with_timeout(make, seconds):
    from dataclasses import replace

    return lambda *a, **kw: replace(make(*a, **kw), timeout_s=seconds)


def _in_a_terminal(ws: Path, *args: str, until: bytes, timeout: float = 60) -> bytes:
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", TERM="xterm")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "mentor", *args], cwd=ws, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen, deadline = b"", time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    proc.wait(timeout=30)
    os.close(master)
    return seen


def test_a_spinner_counts_the_tests_on_a_terminal_and_nowhere_else(ws):
    write(ws, SOLUTION.replace("    z = x @ w + b", "    import time; time.sleep(0.4)\n    z = x @ w + b"))
    shown = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", _in_a_terminal(ws, "check", until=b"Reasoning checks still open"))
    assert re.search(rb"Grading p1\.neuron\.forward\s+\d/5 tests", shown), shown[-3000:]
    piped = cli("check", cwd=ws)
    assert "Grading" not in piped.stdout + piped.stderr


# -- 3. a file Python cannot load ------------------------------------------------------------------
def test_a_syntax_error_is_shown_once_with_file_line_column_and_a_caret(ws):
    write(ws, SOLUTION.replace("z = x @ w + b", "z = x @ (w + b"))
    lines = mentor("check").output.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith(f"  at {EXERCISE}:7:"))
    column = int(lines[at].rsplit(":", 1)[1])
    code, caret = lines[at + 1], lines[at + 2]
    assert code.strip().startswith("z = x @ (w + b") and caret.strip() == "^"
    assert caret.index("^") == 4 + column - 1 and code[caret.index("^")] == "("
    text = "\n".join(lines)
    assert text.count("cannot parse your file") == 1 and "EEEEE" not in text and "errors in" not in text


def test_an_error_at_import_is_shown_once_with_a_caret_under_the_call(ws):
    write(ws, "items = [1, 2]\nitems.push(3)\n" + SOLUTION)
    text = mentor("check").output
    assert text.count("AttributeError") == 1 and "EEEEE" not in text
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith(f"  at {EXERCISE}:2:1"))
    assert lines[at + 1] == "    items.push(3)" and lines[at + 2].startswith("    ^^^^")


def test_check_json_gives_the_column_of_a_syntax_error(ws):
    write(ws, SOLUTION.replace("z = x @ w + b", "z = x @ (w + b"))
    data = json.loads(mentor("check", "--json").output)
    assert data["status"] == "error" and data["where"].endswith("neuron.py:7") and data["column"] == 13


# -- 5. manners ------------------------------------------------------------------------------------
def test_version_and_short_help(ws):
    from mentor import __version__

    assert mentor("--version").output.strip() == f"mentor {__version__}"
    assert "Usage: mentor" in mentor("-h").output and "--tb" in mentor("check", "-h").output


def test_mentor_alone_is_mentor_next(ws):
    assert cli(cwd=ws).stdout == cli("next", cwd=ws).stdout and "Your task" in mentor().output


def test_shell_completion_offers_commands_and_step_ids(ws):
    env = dict(os.environ, _MENTOR_COMPLETE="complete_bash", COMP_WORDS="mentor check p1.neuron", COMP_CWORD="2")
    assert cli(cwd=ws, env=env).stdout.split() == [FIRST]
    env.update(COMP_WORDS="mentor nex", COMP_CWORD="1")
    assert cli(cwd=ws, env=env).stdout.split() == ["next"]


def test_a_mistyped_step_id_gets_a_did_you_mean(ws):
    result = mentor("check", "p1.neuron.froward")
    assert result.exit_code == 2 and f"did you mean {FIRST}?" in result.output


@pytest.mark.parametrize("args", [("list", "--json"), ("progress", "--json"), ("list",)])
def test_a_closed_pipe_ends_the_command_without_a_traceback(ws, args):
    proc = subprocess.Popen([sys.executable, "-m", "mentor", *args], cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `mentor list --json | true` leaves it
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_next_and_hint_speak_json(ws):
    data = json.loads(mentor("next", "--json").output)
    assert data["step"]["id"] == FIRST and data["step"]["exercise"] == EXERCISE and data["hints"] == {"seen": 0, "total": 3}
    hint = json.loads(mentor("hint", "--json").output)
    assert hint["tier"] == 1 and hint["new"] and len(hint["hints"]) == 1
    assert json.loads(cli("next", "--json", cwd=ws).stdout)["hints"]["seen"] == 1


def test_ask_takes_the_question_as_words_and_offline_spends_no_hint(ws):
    result = mentor("ask", "why is my output wrong?")
    assert result.exit_code == 0 and "mentor ask --hint" in result.output
    records = json.loads(mentor("progress", "--json").output)
    assert records["steps"][0]["hints_seen"] == 0
    assert [r["question"] for r in records["store"]["tables"]["tutor_log"]] == ["why is my output wrong?"]
    assert mentor("ask", FIRST, "which", "axis?").exit_code == 0
    assert json.loads(mentor("progress", "--json").output)["store"]["tables"]["tutor_log"][-1]["question"] == "which axis?"


def test_ask_offline_takes_the_next_hint_only_when_asked(ws):
    result = mentor("ask", "--hint", "stuck")
    assert "Hint 1/3" in result.output
    assert json.loads(mentor("progress", "--json").output)["steps"][0]["hints_seen"] == 1
    again = mentor("ask", "still stuck")
    assert "Hint 1/3" in again.output and "Hint 2/3" not in again.output  # what was seen, not a new tier


def test_ask_with_a_mistyped_step_id_says_did_you_mean(ws):
    result = mentor("ask", "p1.neuron.forwrd")
    assert result.exit_code == 2 and f"did you mean {FIRST}?" in result.output


def test_show_rereads_an_unlocked_step_and_refuses_a_locked_one(ws):
    shown = mentor("show", FIRST)
    assert shown.exit_code == 0 and "Your task" in shown.output and EXERCISE in shown.output
    locked = _course().steps[-1].id
    refused = mentor("show", locked)
    assert refused.exit_code == 1 and "locked" in refused.output


def test_solution_defaults_to_the_last_mastered_step_and_is_whole_when_piped(ws):
    assert "no step is mastered yet" in mentor("solution").output
    master_first(ws)
    piped = cli("solution", cwd=ws, env=dict(os.environ, COLUMNS="40"))
    assert piped.returncode == 0 and piped.stdout == SOLUTION


def test_solution_diff_shows_how_the_reference_differs_from_your_file(ws):
    master_first(ws)
    path = ws / EXERCISE
    path.write_text(path.read_text().replace("return z if", "return (z) if"))
    diff = cli("solution", "--diff", cwd=ws).stdout
    assert f"--- {EXERCISE} (yours)" in diff and "-    return (z) if" in diff and "+    return z if" in diff
    shutil.copy(REFERENCE, path)
    assert "line for line" in mentor("solution", "--diff").output


def test_locations_are_relative_to_the_folder_you_are_in(ws, monkeypatch):
    write(ws, SOLUTION.replace("z = x @ w + b", "z = x @ w.reshape(1, -1) + b"))
    assert f"at {EXERCISE}:7: z = x @ w.reshape" in mentor("check").output
    monkeypatch.chdir(ws / "exercises" / "phase1")
    assert "at neuron.py:7: z = x @ w.reshape" in mentor("check").output


# -- 6. narrow terminals ---------------------------------------------------------------------------
def test_wrapped_failure_lines_keep_their_indent(ws, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    write(ws, SOLUTION.replace("x @ w + b", "x @ w"))
    lines = mentor("check").output.splitlines()
    start = next(n for n, line in enumerate(lines) if "the bias is missing" in line)
    message = lines[start : next(n for n in range(start, len(lines)) if "largest difference" in lines[n])]
    assert len(message) > 1 and all(line.startswith("     ") and line[5] != " " for line in message)
    assert all(len(line) <= 60 for line in lines)


@pytest.mark.parametrize("args", [("check",), ("list",), ("progress",), ("next",), ("hint",)])
def test_output_to_a_pipe_carries_no_trailing_spaces(ws, args):
    write(ws, PRINTS_AND_WARNS)
    out = cli(*args, cwd=ws, env=dict(os.environ, COLUMNS="60")).stdout
    assert out.strip() and not [line for line in out.splitlines() if line != line.rstrip()]


# -- mentor edit -----------------------------------------------------------------------------------
def fake_editor(tmp_path: Path) -> tuple[Path, Path]:
    """A program that writes the arguments it was started with to a file, one per line."""
    seen = tmp_path / "editor-args.txt"
    editor = tmp_path / "editor"
    editor.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {seen}\n")
    editor.chmod(0o755)
    return editor, seen


def test_edit_opens_the_first_function_still_to_write(ws, tmp_path, monkeypatch):
    editor, seen = fake_editor(tmp_path)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    result = mentor("edit")
    assert result.exit_code == 0, result.output
    stub = (ws / EXERCISE).read_text().splitlines()
    line = next(i for i, text in enumerate(stub, 1) if "raise NotImplementedError" in text)
    assert seen.read_text().splitlines() == [f"+{line}", str(ws / EXERCISE)]


def test_edit_opens_the_line_the_last_check_stopped_at_and_speaks_each_editors_form(ws, tmp_path, monkeypatch):
    write(ws, SOLUTION + "\n\ndef neuron_forward(x, w, b, activation=None):\n    return x.reshape(7, 7)\n")
    mentor("check")
    editor, seen = fake_editor(tmp_path)
    vscode = tmp_path / "code"
    vscode.write_bytes(editor.read_bytes())
    vscode.chmod(0o755)
    monkeypatch.setenv("VISUAL", f"{vscode} --wait")  # VISUAL wins over EDITOR
    monkeypatch.setenv("EDITOR", str(editor))
    assert mentor("edit").exit_code == 0
    crash_line = SOLUTION.count("\n") + 4
    assert seen.read_text().splitlines() == ["--wait", "-g", f"{ws / EXERCISE}:{crash_line}"]


def test_edit_without_an_editor_says_where_to_go(ws, monkeypatch):
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    result = mentor("edit")
    assert result.exit_code == 2 and "set $EDITOR" in result.output and f"{EXERCISE}:" in result.output
    monkeypatch.setenv("EDITOR", "/no/such/editor")
    assert mentor("edit").exit_code == 2


def test_list_ends_with_the_road_ahead(ws):
    out = mentor("list").output
    ahead = out.split("\nAhead\n")[1]
    course = _course()
    for phase in course.phases[1:]:
        assert f"Phase {phase.number} · {phase.title}" in ahead
        assert phase.lessons[0].title in ahead
    assert f"Phase 1 · {course.phases[0].title}" not in ahead  # begun: its first step is open
    assert "Then the capstone" in ahead and "mentor capstone plan" in ahead
