"""`mentor repair` on real SQLite files with real damage: what it keeps aside, what it salvages, what it leaves alone."""

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.grading.runner import GradeResult, TestResult
from mentor.progress import DAMAGED, MIGRATIONS, SCHEMA_VERSION, ProgressStore, StoreError, _sqlite_utils

runner = CliRunner()


def mentor(*args: str):
    return runner.invoke(app, list(args))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kept_files(ws: Path) -> list[Path]:
    return sorted(ws.glob("progress.db.damaged-*"))


def write_progress(path: Path) -> dict:
    """A store with attempts (three test results each), hints, answers and a tutor question; returns its tables."""
    store = ProgressStore(path)
    for i in range(60):
        tests = [TestResult(name=f"t{j}", outcome="failed", message=f"attempt {i} test {j} " + "x" * 200) for j in range(3)]
        store.record_attempt(f"step{i % 4}", GradeResult("failed", f"attempt {i}", tests=tests, duration_s=0.5))
        store.record_hint(f"step{i % 4}", 1 + i % 3)
        store.record_answer(f"step{i % 4}", "flops", str(i), i % 2 == 0)
    store.record_tutor("step0", "why?", "think about the bias")
    tables = store.export()["tables"]
    store.close()  # the last connection checkpoints the WAL: every row now lies in progress.db itself
    return tables


def wipe_a_leaf(path: Path, table: str, which: str = "middle") -> set[int]:
    """Overwrite one leaf page of `table` with junk: one in the middle, or its last; returns the row ids it held."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    page = data[(root - 1) * size : root * size]
    assert page[0] == 0x05, f"{table} fits in one page: write more rows"  # 0x05: an interior table page
    # Each cell of an interior page: a child's page number, then the largest row id in that child;
    # the last child is the page's right-most pointer, after the cells.
    cells = [int.from_bytes(page[12 + 2 * i : 14 + 2 * i], "big") for i in range(int.from_bytes(page[3:5], "big"))]
    assert len(cells) >= 2, f"{table} needs three leaves or more: write more rows"
    largest_ids = [_varint(page, at + 4) for at in cells]
    if which == "last":
        victim, lost = int.from_bytes(page[8:12], "big"), set(range(largest_ids[-1] + 1, 10**6))
    else:
        middle = len(cells) // 2
        victim = int.from_bytes(page[cells[middle] : cells[middle] + 4], "big")
        lost = set(range(largest_ids[middle - 1] + 1, largest_ids[middle] + 1))
    assert data[(victim - 1) * size] == 0x0D  # a leaf table page
    data[(victim - 1) * size : victim * size] = b"\xde\xad\xbe\xef" * (size // 4)
    path.write_bytes(bytes(data))
    return lost


def _varint(buf: bytes, at: int) -> int:
    value = 0
    for n in range(9):
        byte = buf[at + n]
        if n == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    raise AssertionError("unreachable")


def a_foreign_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('bread')")
    conn.commit()
    conn.close()


# -- a damaged store ---------------------------------------------------------------------------
def test_a_damaged_store_is_kept_aside_and_every_readable_record_is_carried_over(ws):
    path = ws / "progress.db"
    written = write_progress(path)
    lost = wipe_a_leaf(path, "test_results")
    damaged = sha256(path)

    result = mentor("repair", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["condition"] == "damaged" and "malformed" in report["reason"]
    kept = ws / report["kept"][0]
    assert kept.name.startswith("progress.db.damaged-") and sha256(kept) == damaged
    assert kept_files(ws)[0] == kept
    now = ProgressStore(path).export()["tables"]
    for table in ("attempts", "hints", "answers", "tutor_log"):  # untouched pages: every row, as written
        assert now[table] == written[table] and len(now[table]) > 0
        assert report["tables"][table] == {"salvaged": len(written[table]), "unreadable": 0}
    survivors = [row for row in written["test_results"] if row["id"] not in lost]
    assert 0 < len(lost) < len(written["test_results"])
    assert now["test_results"] == survivors
    assert report["tables"]["test_results"] == {"salvaged": len(survivors), "unreadable": len(lost)}


def test_when_the_end_of_a_table_is_unreadable_the_rows_before_it_are_kept_and_the_loss_is_not_guessed(ws):
    path = ws / "progress.db"
    written = write_progress(path)
    lost = wipe_a_leaf(path, "test_results", which="last")

    report = json.loads(mentor("repair", "--json").output)

    survivors = [row for row in written["test_results"] if row["id"] not in lost]
    assert 0 < len(survivors) < len(written["test_results"])
    assert ProgressStore(path).export()["tables"]["test_results"] == survivors
    assert report["tables"]["test_results"] == {"salvaged": len(survivors), "unreadable": None}
    assert report["tables"]["attempts"] == {"salvaged": len(written["attempts"]), "unreadable": 0}


def test_a_damaged_index_alone_loses_no_record(ws):
    path = ws / "progress.db"
    written = write_progress(path)
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'idx_attempts_step_id'").fetchone()[0]
    conn.close()
    size = int.from_bytes(path.read_bytes()[16:18], "big")
    with path.open("r+b") as f:  # zeroes: a page SQLite reports as unreadable rather than failing on
        f.seek((root - 1) * size)
        f.write(bytes(size))
    assert mentor("progress", "--json").exit_code == 2  # the index is what `progress` reads through

    report = json.loads(mentor("repair", "--json").output)

    assert report["condition"] == "damaged" and "Page" in report["reason"]
    assert all(counts["unreadable"] == 0 for counts in report["tables"].values())
    assert ProgressStore(path).export()["tables"] == written
    assert mentor("progress", "--json").exit_code == 0


def test_the_repaired_store_takes_new_records_after_the_salvaged_ones(ws):
    path = ws / "progress.db"
    written = write_progress(path)
    wipe_a_leaf(path, "test_results")
    assert mentor("repair").exit_code == 0
    assert mentor("hint", "p1.neuron.forward").exit_code == 0
    hints = ProgressStore(path).export()["tables"]["hints"]
    assert hints[:-1] == written["hints"] and hints[-1]["step_id"] == "p1.neuron.forward"
    assert mentor("repair").output.startswith("progress.db is healthy")


def test_damage_met_while_reading_points_at_repair_instead_of_a_traceback(ws):
    path = ws / "progress.db"
    write_progress(path)
    wipe_a_leaf(path, "test_results")
    with pytest.raises(StoreError, match="mentor repair") as refused:
        ProgressStore(path).export()
    assert refused.value.problem == DAMAGED
    result = mentor("progress", "--json")
    assert result.exit_code == 2 and "mentor repair" in result.output and result.exception.__class__ is SystemExit


def test_companions_travel_with_the_kept_file_and_their_rows_are_salvaged(ws, tmp_path):
    source = tmp_path / "source.db"
    write_progress(source)
    wipe_a_leaf(source, "test_results")
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # these rows stay in the WAL, as after a crash
    writer.execute("INSERT INTO hints (step_id, tier, at) VALUES ('only-in-the-wal', 1, 0)")
    writer.commit()
    for suffix in ("", "-wal"):  # a snapshot while the writer still has the store open
        shutil.copyfile(f"{source}{suffix}", ws / f"progress.db{suffix}")
    writer.close()
    wal = sha256(ws / "progress.db-wal")

    report = json.loads(mentor("repair", "--json").output)

    kept = [ws / name for name in report["kept"]]
    assert kept[0].name + "-wal" in {p.name for p in kept[1:]} and sha256(ws / (kept[0].name + "-wal")) == wal
    assert not (ws / "progress.db-wal").exists()  # no stale WAL beside the new store
    hints = ProgressStore(ws / "progress.db").export()["tables"]["hints"]
    assert hints[-1]["step_id"] == "only-in-the-wal"


def test_repair_as_a_real_subprocess(ws):
    path = ws / "progress.db"
    write_progress(path)
    lost = wipe_a_leaf(path, "test_results")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=ws, capture_output=True, text=True)

    refused = cli("progress", "--json")
    assert refused.returncode == 2 and "mentor repair" in refused.stderr and "Traceback" not in refused.stderr
    repaired = cli("repair")
    assert repaired.returncode == 0, repaired.stderr
    kept = kept_files(ws)[0]
    assert f"Kept the old file as {kept.name}" in repaired.stdout
    counts = re.search(r"test_results\D+(\d+)\D+(\d+)", repaired.stdout)
    assert counts and (int(counts[1]), int(counts[2])) == (60 * 3 - len(lost), len(lost))
    assert cli("progress", "--json").returncode == 0


# -- nothing to salvage ------------------------------------------------------------------------
def test_random_bytes_are_kept_aside_and_a_fresh_store_starts_empty(ws):
    path = ws / "progress.db"
    path.write_bytes(hashlib.sha256(b"seed").digest() * 1000)  # 32 KB of noise, the same every run
    noise = sha256(path)

    result = mentor("repair")

    assert result.exit_code == 0, result.output
    assert "cannot be read (file is not a database)" in result.output and "Nothing could be read" in result.output
    [kept] = kept_files(ws)
    assert sha256(kept) == noise
    tables = ProgressStore(path).export()["tables"]
    assert all(rows == [] for rows in tables.values())


def test_a_foreign_sqlite_file_is_kept_aside_untouched_and_nothing_is_taken_from_it(ws):
    path = ws / "progress.db"
    path.unlink()
    a_foreign_file(path)
    foreign = sha256(path)
    assert mentor("next").exit_code == 2

    result = mentor("repair", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["condition"] == "foreign" and report["tables"] == {}
    kept = ws / report["kept"][0]
    assert sha256(kept) == foreign
    assert sqlite3.connect(kept).execute("SELECT name FROM recipes").fetchall() == [("bread",)]
    assert mentor("next").exit_code == 0


def test_a_failed_salvage_leaves_the_original_kept_and_no_half_made_store(ws, monkeypatch):
    path = ws / "progress.db"
    write_progress(path)
    wipe_a_leaf(path, "test_results")
    damaged = sha256(path)

    def fail_midway(self, data):
        raise StoreError("disk full")

    monkeypatch.setattr(ProgressStore, "import_", fail_midway)
    result = mentor("repair")

    kept = kept_files(ws)[0]
    assert result.exit_code == 2 and kept.name in result.output and "disk full" in result.output
    assert sha256(kept) == damaged
    assert sorted(p.name for p in ws.glob("progress.db*")) == sorted(p.name for p in kept_files(ws))


def test_a_kept_file_is_never_overwritten(ws, monkeypatch):
    import time

    path = ws / "progress.db"
    path.write_bytes(b"not a database" * 100)
    monkeypatch.setattr(time, "strftime", lambda fmt, *when: "20250102-030405")
    earlier = ws / "progress.db.damaged-20250102-030405"
    earlier.write_text("an earlier repair")

    assert mentor("repair").exit_code == 0

    assert earlier.read_text() == "an earlier repair"
    assert (ws / "progress.db.damaged-20250102-030405-2").read_bytes() == b"not a database" * 100


# -- nothing to repair -------------------------------------------------------------------------
def at_version_1(path: Path) -> None:
    db = _sqlite_utils().Database(sqlite3.connect(path))
    MIGRATIONS[1](db)
    db.execute("PRAGMA user_version = 1")
    db.conn.commit()
    db.conn.close()


@pytest.mark.parametrize("made_by", [write_progress, at_version_1], ids=["current", "migratable"])
def test_a_healthy_store_is_left_as_it_is(ws, made_by):
    path = ws / "progress.db"
    path.unlink()
    made_by(path)
    before = sha256(path)

    result = mentor("repair")

    assert result.exit_code == 0 and "healthy: nothing to repair" in result.output
    assert sha256(path) == before and kept_files(ws) == []


def test_a_store_from_a_newer_mentor_is_refused_and_left_as_it_is(ws):
    path = ws / "progress.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = sha256(path)

    result = mentor("repair")

    assert result.exit_code == 2 and "newer mentor" in result.output and "Upgrade mentor" in result.output
    assert sha256(path) == before and kept_files(ws) == []


def test_no_store_yet_is_nothing_to_repair(ws):
    (ws / "progress.db").unlink()
    result = mentor("repair")
    assert result.exit_code == 0 and "nothing to repair" in result.output
    assert not (ws / "progress.db").exists()
