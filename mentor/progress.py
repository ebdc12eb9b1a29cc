"""The one progress store: a SQLite file holding every attempt, test result, hint, answer and tutor question.

Nothing here stores a step's state: `gating` derives states from these records. The schema is
versioned with SQLite's `user_version` and upgraded by the migrations below, in one transaction.
Reads use the stdlib driver (the everyday commands stay fast); schema and writes go through
sqlite-utils.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

SCHEMA_VERSION = 4
BUSY_TIMEOUT_MS = 10_000


# What can be wrong with the file itself (StoreError.problem): `mentor repair` sets a damaged or
# foreign file aside; a newer store needs a newer mentor.
DAMAGED, FOREIGN, NEWER = "damaged", "foreign", "newer"


class StoreError(Exception):
    """The progress store cannot be used as it is; the message says why and what to do."""

    def __init__(self, message: str, problem: Optional[str] = None):
        super().__init__(message)
        self.problem = problem


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version, once it is known to be a store this mentor can read.

    Raises StoreError for a foreign SQLite file or a store from a newer mentor, and
    sqlite3.DatabaseError when SQLite cannot read the file at all.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
        raise StoreError(
            f"{path} is an SQLite file but not a mentor progress store. It was left untouched: "
            f"`mentor repair` keeps it aside and starts a fresh store.",
            FOREIGN,
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer mentor (store version {version}, this mentor "
            f"reads up to {SCHEMA_VERSION}). Upgrade mentor: `pip install -U mentor`.",
            NEWER,
        )
    return version


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """The file's bytes are wrong (as opposed to a lock, a permission or a missing folder)."""
    return (getattr(error, "sqlite_errorname", None) or "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def unusable(path: Path, error: sqlite3.DatabaseError) -> StoreError:
    """The StoreError for an SQLite error met on the store, opening it or later."""
    if not is_damage(error):
        return StoreError(f"{path} cannot be opened ({error}). It was left untouched.")
    return StoreError(
        f"{path} cannot be read as a progress store ({error}). It was left untouched: `mentor repair` "
        f"keeps it aside, starts a fresh store and salvages every record it can still read.",
        DAMAGED,
    )


def _surfacing_damage(method: Callable) -> Callable:
    """Damage found while reading or writing gives the same StoreError as damage found when opening."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:
            if not is_damage(e):
                raise
            raise unusable(self.path, e) from None

    return guarded


def _sqlite_utils():
    """Import sqlite-utils without its optional NumPy/pandas type mappings (we never insert those)."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes `import numpy` fail fast inside sqlite-utils
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            del sys.modules[name]
    return sqlite_utils


def _database(conn: sqlite3.Connection):
    """sqlite-utils on our connection, without its plugins: finding them scans every installed
    distribution's entry points, 15-30 ms of a `mentor check`, for SQL functions mentor never calls."""
    return _sqlite_utils().Database(conn, execute_plugins=False)


def _migration_1(db) -> None:
    db["attempts"].create(
        {
            "id": int, "step_id": str, "at": float, "duration_s": float, "status": str,
            "passed": int, "message": str, "profile": str, "mentor_version": str,
        },
        pk="id",
    )  # fmt: skip
    db["attempts"].create_index(["step_id"])
    db["test_results"].create(
        {
            "id": int, "attempt_id": int, "name": str, "outcome": str, "kind": str,
            "message": str, "diff": str, "where_": str, "duration_s": float,
        },
        pk="id",
        foreign_keys=[("attempt_id", "attempts", "id")],
    )  # fmt: skip
    db["test_results"].create_index(["attempt_id"])
    db["hints"].create({"id": int, "step_id": str, "tier": int, "at": float}, pk="id")
    db["answers"].create(
        {"id": int, "step_id": str, "check_id": str, "answer": str, "correct": int, "at": float}, pk="id"
    )


def _migration_2(db) -> None:
    # What the learner asked `mentor ask` and what they were shown. Never the API key; a withheld
    # answer is stored as the nudge shown in its place, so the store cannot leak a solution.
    db["tutor_log"].create(
        {
            "id": int, "step_id": str, "at": float, "question": str, "answer": str, "model": str,
            "prompt_tokens": int, "completion_tokens": int, "duration_s": float,
            "offline_reason": str, "withheld": int, "interrupted": int,
        },
        pk="id",
    )  # fmt: skip
    db["tutor_log"].create_index(["step_id"])


def _migration_3(db) -> None:
    # Budget figures a grader took (latency ratio, peak memory, ...), with the hardware profile they
    # were graded for, so progress can show the learner's figures against the reference over time.
    db["measurements"].create(
        {
            "id": int, "attempt_id": int, "step_id": str, "at": float, "profile": str, "budget": str,
            "measured": float, "allowed": float, "learner": float, "reference": float, "unit": str, "ok": int,
        },
        pk="id",
        foreign_keys=[("attempt_id", "attempts", "id")],
    )  # fmt: skip
    db["measurements"].create_index(["step_id"])


def _migration_4(db) -> None:
    # What a reasoning check showed when it was answered, as JSON: the drawn numbers and option order
    # (with the learner id and try number that drew them), the value they made right, and for free
    # text each judge's verdict. A contested answer is replayed from this alone. NULL for older rows.
    db["answers"].add_column("context", str)


MIGRATIONS: dict[int, Callable] = {1: _migration_1, 2: _migration_2, 3: _migration_3, 4: _migration_4}
TABLES = ("attempts", "test_results", "hints", "answers", "tutor_log", "measurements")


@dataclass
class StepRecord:
    """What happened on one step, summarised from the store."""

    attempts: int = 0
    passed: bool = False
    last_status: Optional[str] = None
    hints_seen: int = 0
    correct_checks: set[str] = field(default_factory=set)
    questions: int = 0  # asked of the tutor


@dataclass
class Records:
    steps: dict[str, StepRecord] = field(default_factory=dict)
    events: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, step id)

    def of(self, step_id: str) -> StepRecord:
        return self.steps.get(step_id) or StepRecord()


_open_stores: "weakref.WeakSet[ProgressStore]" = weakref.WeakSet()


def close_all() -> None:
    """Close every store still open (the command is about to end)."""
    for store in list(_open_stores):
        store.close()


class ProgressStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None
        _open_stores.add(self)

    # -- opening -----------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # With WAL, NORMAL skips the fsync per commit and still never leaves the store inconsistent:
            # a crash of the program loses nothing, a power cut at most the last attempt.
            conn.execute("PRAGMA synchronous = NORMAL")
            version = schema_version(conn, self.path)
            if version < SCHEMA_VERSION:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")  # once per file: readers never block the writer
                self._migrate(conn, version)
        except sqlite3.DatabaseError as e:
            raise unusable(self.path, e) from None
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        db = _database(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for v in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](db)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @_surfacing_damage
    def _write(self, fn: Callable) -> object:
        """Run `fn(db)` in one short write transaction."""
        conn = self.connect()
        db = _database(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db)
            conn.execute("COMMIT")
            return out
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- writing -----------------------------------------------------------------------------
    def record_attempt(self, step_id: str, result, profile: str = "", version: str = "") -> int:
        """One grader run and its per-test results, atomically."""

        def write(db):
            attempt = db["attempts"].insert(
                {
                    "step_id": step_id, "at": time.time() - result.duration_s, "duration_s": result.duration_s,
                    "status": result.status, "passed": int(result.passed), "message": result.message,
                    "profile": profile, "mentor_version": version,
                }
            ).last_pk  # fmt: skip
            db["test_results"].insert_all(
                {
                    "attempt_id": attempt, "name": t.name, "outcome": t.outcome, "kind": t.kind,
                    "message": t.message, "diff": t.diff, "where_": t.where, "duration_s": t.duration,
                }
                for t in result.tests
            )  # fmt: skip
            db["measurements"].insert_all(
                {
                    "attempt_id": attempt, "step_id": step_id, "at": time.time(), "profile": m.get("profile") or profile,
                    "budget": m["budget"], "measured": m["measured"], "allowed": m["allowed"],
                    "learner": m["learner"], "reference": m["reference"], "unit": m["unit"], "ok": int(m["ok"]),
                }
                for m in getattr(result, "measurements", [])
            )  # fmt: skip
            return attempt

        return self._write(write)

    def rename_steps(self, renamed: dict[str, str]) -> dict[str, int]:
        """Move every record of an old step id to its new id, in one transaction; rows moved per old id."""

        def write(db):
            moved = {}
            for old, new in renamed.items():
                moved[old] = 0
                for table in TABLES:
                    if "step_id" in db[table].columns_dict:
                        moved[old] += db.execute(f"UPDATE {table} SET step_id = ? WHERE step_id = ?", (new, old)).rowcount
            return moved

        return self._write(write)

    @_surfacing_damage
    def step_ids(self) -> set[str]:
        """Every step id the records mention."""
        conn = self.connect()
        ids = set()
        for table in ("attempts", "hints", "answers", "tutor_log"):
            ids.update(row[0] for row in conn.execute(f"SELECT DISTINCT step_id FROM {table}"))
        return ids

    def record_hint(self, step_id: str, tier: int) -> None:
        self._write(lambda db: db["hints"].insert({"step_id": step_id, "tier": tier, "at": time.time()}))

    def record_answer(self, step_id: str, check_id: str, answer: str, correct: bool, context: Optional[dict] = None) -> None:
        """One answer to a reasoning check; `context` is what the check showed (see migration 4)."""
        row = {"step_id": step_id, "check_id": check_id, "answer": answer, "correct": int(correct), "at": time.time(),
               "context": json.dumps(context, sort_keys=True) if context is not None else None}  # fmt: skip
        self._write(lambda db: db["answers"].insert(row))

    def answers_to(self, step_id: str, check_id: str) -> list[dict]:
        """Every answer to one check, oldest first, with its context read back (None for older rows)."""
        rows = self._rows("SELECT * FROM answers WHERE step_id = ? AND check_id = ? ORDER BY id", (step_id, check_id))
        for row in rows:
            row["context"] = json.loads(row["context"]) if row.get("context") else None
        return rows

    @_surfacing_damage
    def last_pass_at(self, step_id: str) -> Optional[float]:
        """When the latest passing grader run of a step ended (None if none passed)."""
        row = self.connect().execute(
            "SELECT max(at + duration_s) FROM attempts WHERE step_id = ? AND passed = 1", (step_id,)
        ).fetchone()
        return row[0] if row else None

    def record_tutor(
        self,
        step_id: str,
        question: str,
        answer: str,
        *,
        model: Optional[str] = None,
        prompt_tokens: Optional[int] = None,
        completion_tokens: Optional[int] = None,
        duration_s: float = 0.0,
        offline_reason: Optional[str] = None,
        withheld: bool = False,
        interrupted: bool = False,
    ) -> int:
        """One question to the tutor and the answer as shown (`offline_reason` set when no model answered)."""
        row = {
            "step_id": step_id, "at": time.time() - duration_s, "question": question, "answer": answer,
            "model": model, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "duration_s": duration_s, "offline_reason": offline_reason, "withheld": int(withheld),
            "interrupted": int(interrupted),
        }  # fmt: skip
        return self._write(lambda db: db["tutor_log"].insert(row).last_pk)

    # -- reading -----------------------------------------------------------------------------
    @_surfacing_damage
    def records(self) -> Records:
        conn = self.connect()
        recs = Records()
        for step_id, n, passed in conn.execute(
            "SELECT step_id, count(*), max(passed) FROM attempts GROUP BY step_id"
        ):
            recs.steps[step_id] = StepRecord(attempts=n, passed=bool(passed))
        for step_id, status in conn.execute(
            "SELECT step_id, status FROM attempts WHERE id IN (SELECT max(id) FROM attempts GROUP BY step_id)"
        ):
            recs.steps[step_id].last_status = status
        for step_id, tier in conn.execute("SELECT step_id, max(tier) FROM hints GROUP BY step_id"):
            recs.steps.setdefault(step_id, StepRecord()).hints_seen = tier
        for step_id, n in conn.execute("SELECT step_id, count(*) FROM tutor_log GROUP BY step_id"):
            recs.steps.setdefault(step_id, StepRecord()).questions = n
        for step_id, check_id in conn.execute("SELECT DISTINCT step_id, check_id FROM answers WHERE correct = 1"):
            recs.steps.setdefault(step_id, StepRecord()).correct_checks.add(check_id)
        recs.events = conn.execute(
            "SELECT at, at + duration_s, step_id FROM attempts UNION ALL SELECT at, at, step_id FROM hints "
            "UNION ALL SELECT at, at, step_id FROM answers ORDER BY 1"
        ).fetchall()
        return recs

    @_surfacing_damage
    def measurements(self, step_id: Optional[str] = None) -> list[dict]:
        """Budget figures in the order they were taken, for one step or all."""
        conn = self.connect()
        conn.row_factory = sqlite3.Row
        try:
            where, args = ("WHERE step_id = ?", (step_id,)) if step_id else ("", ())
            return [dict(r) for r in conn.execute(f"SELECT * FROM measurements {where} ORDER BY id", args)]
        finally:
            conn.row_factory = None

    @_surfacing_damage
    def last_attempt(self, step_id: str) -> Optional[dict]:
        conn = self.connect()
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(
                "SELECT * FROM attempts WHERE step_id = ? ORDER BY id DESC LIMIT 1", (step_id,)
            ).fetchone()
            if row is None:
                return None
            attempt = dict(row)
            attempt["tests"] = [
                dict(r) for r in conn.execute("SELECT * FROM test_results WHERE attempt_id = ? ORDER BY id", (row["id"],))
            ]
            return attempt
        finally:
            conn.row_factory = None

    def tutor_history(self, step_id: str, limit: int = 5) -> list[dict]:
        """The last `limit` tutor exchanges on a step, oldest first."""
        rows = self._rows("SELECT * FROM tutor_log WHERE step_id = ? ORDER BY id DESC LIMIT ?", (step_id, limit))
        return rows[::-1]

    @_surfacing_damage
    def last_answer(self, step_id: str, check_id: str) -> Optional[str]:
        """The learner's most recent answer to a reasoning check, right or wrong."""
        row = self.connect().execute(
            "SELECT answer FROM answers WHERE step_id = ? AND check_id = ? ORDER BY id DESC LIMIT 1", (step_id, check_id)
        ).fetchone()
        return row[0] if row else None

    @_surfacing_damage
    def _rows(self, sql: str, params: tuple = ()) -> list[dict]:
        conn = self.connect()
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.row_factory = None

    @_surfacing_damage
    def export(self) -> dict:
        """Every table, row by row: enough to restore the store elsewhere."""
        conn = self.connect()
        conn.row_factory = sqlite3.Row
        try:
            return {
                "schema_version": SCHEMA_VERSION,
                "tables": {
                    t: [dict(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")]
                    for t in TABLES
                },
            }
        finally:
            conn.row_factory = None

    def import_(self, data: dict) -> dict[str, int]:
        """Restore an `export()` (from this or an older store version) into this store, which must be empty.

        Row ids are kept, so test results still point at their attempts. One transaction: a bad
        file leaves the store as it was. Returns the rows restored per table.
        """
        if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
            raise StoreError("not a mentor progress export: expected {'schema_version': N, 'tables': {...}}")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise StoreError(f"the export is from store version {version}; this mentor reads up to {SCHEMA_VERSION}")
        unknown = set(data["tables"]) - set(TABLES)
        if unknown:
            raise StoreError(f"the export has tables this store does not know: {', '.join(sorted(unknown))}")
        conn = self.connect()
        if any(conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in TABLES):
            raise StoreError(f"{self.path} already holds progress: restore into a fresh workspace")

        def write(db):
            counts = {}
            for table in TABLES:  # attempts before the rows that point at them
                rows = data["tables"].get(table) or []
                db[table].insert_all(rows, pk="id", alter=False)
                counts[table] = len(rows)
            return counts

        try:
            return self._write(write)
        except (sqlite3.Error, TypeError, AttributeError, KeyError) as e:
            raise StoreError(f"the export could not be restored ({e}); the store is unchanged") from None

