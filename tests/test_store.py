"""The progress store: a real SQLite file, versioned, written in transactions, refusing what it cannot read."""

import sqlite3

import pytest

from mentor.grading.runner import GradeResult, TestResult
from mentor.progress import DAMAGED, FOREIGN, NEWER, SCHEMA_VERSION, ProgressStore, StoreError


def result(status="failed", tests=2) -> GradeResult:
    return GradeResult(
        status, "msg", tests=[TestResult(name=f"t{i}", outcome="passed" if status == "passed" else "failed") for i in range(tests)], duration_s=0.5
    )


def test_a_new_store_is_created_at_the_current_schema(tmp_path):
    store = ProgressStore(tmp_path / "progress.db")
    store.connect()
    assert sqlite3.connect(tmp_path / "progress.db").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_attempts_hints_and_answers_summarise_per_step(tmp_path):
    store = ProgressStore(tmp_path / "progress.db")
    store.record_attempt("a", result("failed"))
    store.record_attempt("a", result("passed"))
    store.record_attempt("b", result("not_started"))
    store.record_hint("a", 1)
    store.record_hint("a", 2)
    store.record_answer("a", "flops", "1", False)
    store.record_answer("a", "flops", "16384", True)
    recs = store.records()
    a, b = recs.of("a"), recs.of("b")
    assert (a.attempts, a.passed, a.last_status, a.hints_seen, a.correct_checks) == (2, True, "passed", 2, {"flops"})
    assert (b.attempts, b.passed, b.last_status) == (1, False, "not_started")
    assert len(recs.events) == 3 + 2 + 2


def test_last_attempt_carries_its_per_test_results(tmp_path):
    store = ProgressStore(tmp_path / "progress.db")
    store.record_attempt("a", result("failed", tests=3))
    last = store.last_attempt("a")
    assert last["status"] == "failed" and [t["name"] for t in last["tests"]] == ["t0", "t1", "t2"]
    assert store.last_attempt("nothing") is None


def test_records_survive_reopening(tmp_path):
    ProgressStore(tmp_path / "p.db").record_attempt("a", result("passed"))
    assert ProgressStore(tmp_path / "p.db").records().of("a").passed


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = ProgressStore(tmp_path / "p.db")
    bad = result("failed")
    bad.tests.append("not a test result")  # breaks half-way through the per-test inserts
    with pytest.raises(AttributeError):
        store.record_attempt("a", bad)
    assert store.records().of("a").attempts == 0
    assert store.export()["tables"]["test_results"] == []


def test_a_foreign_sqlite_file_is_refused_with_a_way_out_and_left_untouched(tmp_path):
    path = tmp_path / "progress.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a mentor progress store.*`mentor repair` keeps it aside") as refused:
        ProgressStore(path).connect()
    assert refused.value.problem == FOREIGN
    assert path.read_bytes() == before


def test_a_damaged_file_is_refused_with_a_way_out(tmp_path):
    path = tmp_path / "progress.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="cannot be read.*`mentor repair` keeps it aside") as refused:
        ProgressStore(path).connect()
    assert refused.value.problem == DAMAGED
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_a_store_that_cannot_be_opened_is_not_called_damaged(tmp_path):
    path = tmp_path / "no-such-folder" / "progress.db"
    with pytest.raises(StoreError, match="cannot be opened") as refused:
        ProgressStore(path).connect()
    assert refused.value.problem is None and "mentor repair" not in str(refused.value)


def test_a_store_from_a_newer_mentor_is_refused(tmp_path):
    path = tmp_path / "progress.db"
    ProgressStore(path).connect()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer mentor") as refused:
        ProgressStore(path).connect()
    assert refused.value.problem == NEWER


def test_export_holds_every_row(tmp_path):
    store = ProgressStore(tmp_path / "p.db")
    store.record_attempt("a", result("passed", tests=2))
    store.record_hint("a", 1)
    tables = store.export()["tables"]
    assert (len(tables["attempts"]), len(tables["test_results"]), len(tables["hints"])) == (1, 2, 1)


def test_twenty_concurrent_writers_lose_nothing(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "progress.db"
    ProgressStore(path).connect()
    code = (
        "import sys; from mentor.progress import ProgressStore; from mentor.grading.runner import GradeResult, TestResult\n"
        "s = ProgressStore(sys.argv[1])\n"
        "for i in range(5):\n"
        "    s.record_attempt(sys.argv[2], GradeResult('failed', 'm', tests=[TestResult(name='t', outcome='failed')]))\n"
        "    s.record_hint(sys.argv[2], i + 1)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"s{i}"], stderr=subprocess.PIPE) for i in range(20)]
    errors = [p.communicate()[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for e in errors if e][:1]
    tables = ProgressStore(path).export()["tables"]
    assert (len(tables["attempts"]), len(tables["test_results"]), len(tables["hints"])) == (100, 100, 100)
