"""`mentor repair`: set a damaged or foreign progress store aside and start a fresh one holding every
record that can still be read from the old file.

Safe to interrupt at any point. The old files are renamed before anything is written (each rename is
atomic, nothing is deleted), and the new store is built beside them and moved into place whole. The
learner always keeps the original bytes under the name the report gives.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from mentor.progress import (
    DAMAGED,
    FOREIGN,
    SCHEMA_VERSION,
    TABLES,
    ProgressStore,
    StoreError,
    is_damage,
    schema_version,
    unusable,
)

MISSING, HEALTHY = "missing", "healthy"
# SQLite's files beside a database, named after it; they travel with it so the set still opens.
# They move before the database: a WAL left behind without its database would be deleted by SQLite
# as soon as a fresh store is created under the old name.
COMPANIONS = ("-wal", "-shm", "-journal")


@dataclass
class TableSalvage:
    """What became of one table's rows: carried into the new store, or lost (None: not even countable)."""

    salvaged: int
    unreadable: Optional[int]


@dataclass
class Repair:
    """What `repair_store` found and did."""

    store: Path
    condition: str  # MISSING or HEALTHY: nothing done; DAMAGED or FOREIGN: set aside, fresh store in place
    reason: str = ""  # what is wrong with the old file
    kept: list[Path] = field(default_factory=list)  # the old files under their new names, the database first
    tables: dict[str, TableSalvage] = field(default_factory=dict)  # the mentor tables found in the old file


def repair_store(path: Path) -> Repair:
    """Leave a healthy store alone; put a damaged or foreign one aside and a fresh store in its place.

    From a damaged store every row that can still be read is carried over; from a foreign file,
    nothing. A store from a newer mentor is refused with its StoreError.
    """
    condition, reason = diagnose(path)
    if condition in (MISSING, HEALTHY):
        return Repair(path, condition)
    kept = set_aside(path)
    report = Repair(path, condition, reason, kept)
    export = {"schema_version": SCHEMA_VERSION, "tables": {}}
    try:
        if condition == DAMAGED:
            export, report.tables = salvage(kept[0])
        _put_new_store(path, export, mode_of=kept[0])
    except Exception as e:
        raise StoreError(
            f"{path} was set aside as {kept[0]}, but no new store could be made ({e}). Nothing was "
            f"deleted: the old file is kept there, and the next command starts an empty store."
        ) from None
    return report


def diagnose(path: Path) -> tuple[str, str]:
    """The store's condition and, when it is not usable, why; reads the file without writing to it."""
    if not path.exists():
        return MISSING, ""
    try:
        conn = _read_only(path)
        try:
            schema_version(conn, path)
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]  # every page of every table and index
        finally:
            conn.close()
    except StoreError as e:
        if e.problem != FOREIGN:
            raise  # a newer mentor's store is not damaged: this mentor is too old for it
        return FOREIGN, "an SQLite file, but not a mentor progress store"
    except sqlite3.DatabaseError as e:
        if not is_damage(e):
            raise unusable(path, e) from None  # a lock or a permission: setting the file aside would not help
        return DAMAGED, str(e)
    if problems != ["ok"]:
        return DAMAGED, "; ".join(problems[:3])
    return HEALTHY, ""


def set_aside(path: Path) -> list[Path]:
    """Rename the store and its companions to `<name>.damaged-<date>-<time>`, never over an existing file.

    Returns the new names, the database first.
    """
    stamp = f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    name, n = stamp, 1
    while any(path.with_name(name + suffix).exists() for suffix in ("", *COMPANIONS)):
        n += 1
        name = f"{stamp}-{n}"
    kept = [path.with_name(name)]
    for suffix in (*COMPANIONS, ""):
        old = path.with_name(path.name + suffix)
        if old.exists():
            new = path.with_name(name + suffix)
            os.rename(old, new)
            if suffix:
                kept.append(new)
    return kept


def salvage(path: Path) -> tuple[dict, dict[str, TableSalvage]]:
    """Every row of the mentor tables that can still be read from the store at `path`.

    Returns an export that `ProgressStore.import_` takes, and per table found what was read and what
    was not. A table is read whole where it can be, row by row past the rows that cannot.
    """
    conn = _read_only(path)
    conn.row_factory = sqlite3.Row
    tables, counts = {}, {}
    try:
        try:
            found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            found = set()  # the schema itself is unreadable, so is every table
        for table in (t for t in TABLES if t in found):  # attempts before the rows that point at them
            tables[table], counts[table] = _salvage_table(conn, table)
    finally:
        conn.close()
    return {"schema_version": SCHEMA_VERSION, "tables": tables}, counts


def _salvage_table(conn: sqlite3.Connection, table: str) -> tuple[list[dict], TableSalvage]:
    try:
        rows = [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY id")]
        return rows, TableSalvage(len(rows), 0)
    except sqlite3.DatabaseError:
        pass  # read it row by row, past the rows that cannot be read
    try:
        last = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        last = None  # the end of the table is unreadable: read up to the damage and stop there
    # Mentor never deletes a row, so ids run 1, 2, 3, ...: when reading from id n fails, row n is the
    # one that cannot be read. One row per query, because a cursor reads a row ahead of the one it
    # returns: a longer read would lose the row just before the damage as well.
    rows: list[dict] = []
    start, unreadable = 1, 0
    while last is None or start <= last:
        try:
            row = conn.execute(f"SELECT * FROM {table} WHERE id >= ? ORDER BY id LIMIT 1", (start,)).fetchone()
        except sqlite3.DatabaseError:
            if last is None:
                return rows, TableSalvage(len(rows), None)
            start, unreadable = start + 1, unreadable + 1
            continue
        if row is None:
            break
        rows.append(dict(row))
        start = row["id"] + 1
    return rows, TableSalvage(len(rows), unreadable)


def _put_new_store(path: Path, export: dict, mode_of: Path) -> None:
    """Build the new store beside `path` and move it into place whole: interrupted, there is none yet."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".new")
    os.close(fd)
    new = Path(name)
    try:
        shutil.copymode(mode_of, new)  # the learner's permissions, not mkstemp's private ones
        store = ProgressStore(new)
        try:
            store.import_(export)  # creates the schema, then every row in one transaction
        finally:
            store.close()  # checkpoints the WAL into the file: the file alone is the whole store
        os.replace(new, path)
    finally:
        for leftover in (new, *(new.with_name(new.name + suffix) for suffix in COMPANIONS)):
            leftover.unlink(missing_ok=True)


def _read_only(path: Path) -> sqlite3.Connection:
    # mode=ro never writes to the database file (SQLite may add an empty -wal/-shm beside a WAL store).
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
