"""Parametrised, shuffled and free-text reasoning checks as a learner and a script meet them: numbers
drawn per learner and try, recorded and replayed, a malformed check refused when the course loads.

The course here is a copy of the shipped one whose first step carries the checks under test, so the
tests hold whatever the shipped checks become. Stores are real SQLite files; the CLI runs in-process
through Typer's runner and, where a script's view matters, as a real subprocess.
"""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mentor.checks import right_answer
from mentor.cli import app
from mentor.content import copy_shipped
from mentor.curriculum import CurriculumError, load_course
from mentor.draws import draw, learner_id
from mentor.grading.runner import GradeResult
from mentor.paths import content_root
from mentor.progress import ProgressStore

FIRST = "p1.neuron.forward"
runner = CliRunner()

CHECKS = [
    {
        "id": "flops",
        "params": {"N": {"min": 2, "max": 512}, "D": {"choices": [16, 32, 48, 96, 160]}},
        "ask": "FLOPs of one layer for N={N} examples and D={D} inputs?",
        "answer": {"formula": "2*N*D", "tolerance": 0, "close": 0.2,
                   "wrong": [{"formula": "N*(2*D - 1)", "why": "the bias add is one more FLOP per example"}]},
        "hint": "Per example: D products, D-1 additions, one bias ({D} inputs).",
    },
    {
        "id": "pick",
        "ask": "Which is right?",
        "choices": ["the right one", {"text": "a wrong one", "why": "wrong because of W1"}, {"text": "another wrong one", "why": "wrong because of W2"}],
        "answer": {"choice": "a"},
    },
    {
        "id": "why",
        "ask": "Why does a neuron need a bias?",
        "answer": {"rubric": [["shift", "offset"]], "forbid": ["nonlinear"]},
    },
]


def with_checks(root: Path, checks: list, step_index: int = 0) -> Path:
    path = root / "curriculum" / "phase1.yaml"
    data = yaml.safe_load(path.read_text())
    data["lessons"][0]["steps"][step_index]["checks"] = checks
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture
def content(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "content"
    copy_shipped(content_root(), root, ("curriculum", "exercises", "solutions", "tests"))
    with_checks(root, CHECKS)
    monkeypatch.setenv("MENTOR_CONTENT", str(root))
    return root


@pytest.fixture
def ws(content, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "200")
    return root


def passed(ws: Path, step_id: str = FIRST) -> None:
    """A passing grader run on record, as `mentor check` leaves it (the grader itself is tested elsewhere)."""
    store = ProgressStore(ws / "progress.db")
    store.record_attempt(step_id, GradeResult("passed", "", []))
    store.close()


def mentor(*args):
    return runner.invoke(app, list(args))


def questions(ws) -> dict:
    data = json.loads(mentor("answer", FIRST, "--json").output)
    return {q["id"]: q for q in data["questions"]}


def course_check(content, check_id):
    return next(c for c in load_course(content).step(FIRST).checks if c.id == check_id)


def answer_rows(ws) -> list[dict]:
    conn = sqlite3.connect(ws / "progress.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM answers ORDER BY id")]
    finally:
        conn.close()


# -- drawing -----------------------------------------------------------------------------------
def test_the_same_learner_and_try_see_the_same_numbers(ws):
    passed(ws)
    first, again = questions(ws)["flops"], questions(ws)["flops"]
    assert first["params"] == again["params"] and first["ask"] == again["ask"]
    assert f"N={first['params']['N']}" in first["ask"] and first["try"] == 0


def test_a_wrong_answer_draws_new_numbers_for_the_next_try(ws):
    passed(ws)
    before = questions(ws)["flops"]
    result = mentor("answer", FIRST, "--answer", "flops=1")
    assert "not quite" in result.output and "new numbers" in result.output
    after = questions(ws)["flops"]
    assert after["try"] == 1 and after["params"] != before["params"]


def test_other_learners_see_other_numbers(content):
    check = course_check(content, "flops")
    seen = {tuple(sorted(draw(check, f"learner-{i}", FIRST, 0).params.items())) for i in range(20)}
    assert len(seen) > 10
    assert draw(check, "learner-0", FIRST, 3) == draw(check, "learner-0", FIRST, 3)


def test_the_learner_id_is_made_once_per_workspace(ws, tmp_path):
    passed(ws)
    questions(ws)
    kept = (ws / ".mentor" / "learner").read_text().strip()
    assert len(kept) == 16 and learner_id(ws / ".mentor") == kept
    other = tmp_path / "other"
    assert mentor("init", str(other)).exit_code == 0
    assert learner_id(other / ".mentor") != kept


def test_the_right_answer_to_the_drawn_numbers_is_accepted_and_recorded_with_them(ws):
    passed(ws)
    q = questions(ws)["flops"]
    value = 2 * q["params"]["N"] * q["params"]["D"]
    result = mentor("answer", FIRST, "--answer", f"flops={q['params']['N']}*2*{q['params']['D']}")
    assert "flops: right" in result.output
    row = answer_rows(ws)[-1]
    context = json.loads(row["context"])
    assert row["correct"] == 1 and context["params"] == q["params"] and context["expected"] == value
    assert context["learner"] == learner_id(ws / ".mentor") and context["try"] == 0


def test_a_near_miss_is_told_close_and_a_known_wrong_value_why(ws):
    passed(ws)
    p = questions(ws)["flops"]["params"]
    result = mentor("answer", FIRST, "--answer", f"flops={2 * p['N'] * p['D'] + 1}")
    assert "close: give the exact value" in result.output
    p = questions(ws)["flops"]["params"]
    result = mentor("answer", FIRST, "--answer", f"flops={p['N'] * (2 * p['D'] - 1)}")
    assert "the bias add is one more FLOP" in result.output


def test_a_recorded_answer_replays_even_after_the_course_changed_its_ranges(ws, content):
    passed(ws)
    p = questions(ws)["flops"]["params"]
    mentor("answer", FIRST, "--answer", "flops=7")
    mentor("answer", FIRST, "--answer", f"flops={2 * p['N'] * p['D']}")  # the old numbers: wrong for try 1
    q = questions(ws)["flops"]["params"]
    mentor("answer", FIRST, "--answer", f"flops={2 * q['N'] * q['D']}")
    changed = [dict(CHECKS[0], params={"N": {"min": 1000, "max": 2000}, "D": {"choices": [7, 9]}}), *CHECKS[1:]]
    with_checks(content, changed)
    replay = json.loads(mentor("answer", FIRST, "--replay", "flops", "--json").output)["answers"]
    assert [a["correct_then"] for a in replay] == [False, False, True]
    assert [a["correct_now"] for a in replay] == [False, False, True]
    assert replay[0]["params"] == p and replay[2]["params"] == q and replay[2]["expected_now"] == 2 * q["N"] * q["D"]
    assert f"N={q['N']}" in replay[2]["asked"]


# -- multiple choice -----------------------------------------------------------------------------
def test_options_are_shuffled_per_try_and_recorded_by_identity_not_letter(ws):
    passed(ws)
    orders = []
    for _ in range(2):
        shown = questions(ws)["pick"]["choices"]
        orders.append(shown)
        wrong = next(letter for letter, text in zip("abc", shown) if text != "the right one")
        result = mentor("answer", FIRST, "--answer", f"pick={wrong}")
        assert "wrong because of W" in result.output  # the picked option's own why
    passed(ws)  # a new pass, new tries
    orders.append(questions(ws)["pick"]["choices"])
    assert len({tuple(o) for o in orders}) > 1 and all(sorted(o) == sorted(orders[0]) for o in orders)
    rows = answer_rows(ws)
    assert {r["answer"] for r in rows} <= {"a wrong one", "another wrong one"}
    assert all(json.loads(r["context"])["typed"] in "abc" for r in rows)


def test_choice_tries_are_limited_per_passing_run(ws):
    passed(ws)
    for _ in range(2):
        shown = questions(ws)["pick"]["choices"]
        mentor("answer", FIRST, "--answer", f"pick={'abc'[[t != 'the right one' for t in shown].index(True)]}")
    assert questions(ws)["pick"]["tries_left"] == 0
    result = mentor("answer", FIRST, "--answer", "pick=the right one")
    assert "No tries left on pick" in result.output and len(answer_rows(ws)) == 2
    passed(ws)
    result = mentor("answer", FIRST, "--answer", "pick=the right one")  # the option itself, whatever its letter
    assert "pick: right" in result.output


# -- free text -----------------------------------------------------------------------------------
def test_a_known_wrong_explanation_fails_even_with_the_required_idea(ws):
    passed(ws)
    result = mentor("answer", FIRST, "--answer", "why=it shifts the output and makes the neuron nonlinear")
    assert "why: not quite" in result.output and "wrong explanation" in result.output
    result = mentor("answer", FIRST, "--answer", "why=it shifts the output away from the origin")
    assert "why: right" in result.output
    offline = [json.loads(r["context"])["offline"] for r in answer_rows(ws)]
    assert offline[0]["forbidden"] == ["nonlinear"] and offline[1]["missing"] == []


# -- a script, through a real subprocess --------------------------------------------------------
def test_a_script_reads_its_numbers_from_check_json_and_masters_the_step(ws, content):
    env = {"MENTOR_CONTENT": str(content), "PATH": "/usr/bin:/bin", "HOME": str(ws)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=ws, capture_output=True, text=True, env=env)

    shutil.copy(content / "solutions/phase1/neuron.py", ws / "exercises/phase1/neuron.py")
    data = json.loads(cli("check", FIRST, "--json").stdout)
    assert data["passed"] and data["checks_pending"] == ["flops", "pick", "why"]
    by_id = {q["id"]: q for q in data["questions"]}
    p = by_id["flops"]["params"]
    letter = "abc"[by_id["pick"]["choices"].index("the right one")]
    args = ["--answer", f"flops={2 * p['N'] * p['D']}", "--answer", f"pick={letter}", "--answer", "why=an offset"]
    result = cli("answer", FIRST, *args)
    assert result.returncode == 0 and f"Mastered {FIRST}" in result.stdout, result.stdout + result.stderr


def test_right_answer_matches_what_the_cli_accepts(ws, content):
    """The tests' helper (tests/answering.py) and the CLI agree on the drawn numbers."""
    from answering import answer_args

    passed(ws)
    result = mentor("answer", FIRST, *answer_args(ws, load_course(content).step(FIRST)))
    assert f"Mastered {FIRST}" in result.output, result.output
    check = course_check(content, "flops")
    assert right_answer(check, draw(check, learner_id(ws / ".mentor"), FIRST, 0)).isdigit()


# -- old stores ----------------------------------------------------------------------------------
def test_a_store_from_before_draws_migrates_and_its_answers_still_count(ws):
    path = ws / "progress.db"
    path.unlink()
    conn = sqlite3.connect(path, isolation_level=None)
    from mentor import progress

    db = progress._sqlite_utils().Database(conn)
    for v in (1, 2, 3):
        progress.MIGRATIONS[v](db)
    db["attempts"].insert({"step_id": FIRST, "at": 1.0, "duration_s": 0.5, "status": "passed", "passed": 1})
    db["answers"].insert({"step_id": FIRST, "check_id": "flops", "answer": "16384", "correct": 1, "at": 2.0})
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    data = json.loads(mentor("progress", "--json").output)
    assert data["steps"][0]["checks_correct"] == ["flops"]
    replay = json.loads(mentor("answer", FIRST, "--replay", "flops", "--json").output)["answers"]
    assert replay[0]["correct_then"] is True and replay[0]["correct_now"] is None and "before" in replay[0]["why"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == progress.SCHEMA_VERSION


# -- malformed checks are refused when the course loads -------------------------------------------
def flops_with(**changes) -> dict:
    check = json.loads(json.dumps(CHECKS[0]))
    for key, value in changes.items():
        if key.startswith("answer."):
            check["answer"][key.split(".", 1)[1]] = value
        else:
            check[key] = value
    return check


@pytest.mark.parametrize(
    "check,field,says",
    [
        (flops_with(**{"answer.formula": "2*N*Q"}), "checks[0].answer.formula", "unknown name 'Q'"),
        (flops_with(ask="FLOPs for N={N}, D={D} and K={K}?"), "checks[0].ask", "unknown name 'K'"),
        (flops_with(ask="FLOPs for N={N}?"), "checks[0].ask", "'D' is drawn but never shown"),
        (flops_with(params={"N": {"min": 8, "max": 2}, "D": {"choices": [16, 32]}}), "checks[0].params.N", "min < max"),
        (flops_with(params={"N": {"min": 2, "max": 8}, "D": {"choices": [16]}}), "checks[0].params.D", "two different values"),
        (flops_with(params={"N": {"min": 2}, "D": {"choices": [16, 32]}}), "checks[0].params.N", "min and max"),
        (flops_with(**{"answer.formula": "1/(N - 2)"}), "checks[0].answer.formula", "at D=16, N=2"),
        (flops_with(**{"answer.formula": "2*N*"}), "checks[0].answer.formula", "not an arithmetic expression"),
        (flops_with(**{"answer.formula": "__import__('os')"}), "checks[0].answer.formula", "unknown name"),
        (flops_with(**{"answer.close": 0.0}), "checks[0].answer.close", "beyond the tolerance"),
        (flops_with(hint="With {M} inputs"), "checks[0].hint", "unknown name 'M'"),
        (flops_with(params=None), "checks[0].answer.formula", "needs params"),
        ({**CHECKS[1], "choices": [{"text": "the right one", "why": "?"}, "b"]}, "checks[0].choices", "the right option carries"),
    ],
    ids=["formula-name", "ask-name", "unshown-param", "range", "one-choice", "half-range", "extremes", "syntax", "no-eval",
         "close", "hint-name", "no-params", "why-on-right"],
)  # fmt: skip
def test_a_malformed_check_is_refused_naming_file_step_check_and_field(tmp_path, check, field, says):
    root = tmp_path / "content"
    copy_shipped(content_root(), root, ("curriculum", "exercises", "solutions"))
    with_checks(root, [check])
    with pytest.raises(CurriculumError) as e:
        load_course(root)
    msg = str(e.value)
    assert "phase1.yaml" in msg and FIRST in msg and field in msg and f"check {check['id']}" in msg and says in msg, msg


def test_the_course_refuses_a_malformed_check_through_the_cli_with_exit_2(content, tmp_path, monkeypatch):
    with_checks(content, [flops_with(**{"answer.formula": "2*N*Q"})])
    monkeypatch.chdir(tmp_path)
    result = mentor("dev", "verify", "--checks-only")
    assert result.exit_code == 2 and "unknown name 'Q'" in result.output
