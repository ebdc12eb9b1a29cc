"""Moving a learner to another machine: their records and their code, as one JSON file.

`mentor export FILE` writes every record of progress.db and every text file under the workspace's
exercises/; `mentor import FILE` (or `mentor restore FILE`) puts both into another workspace. A
file there that differs from the one arriving is kept in .mentor/backups/ first, so nothing is lost.
A plain `mentor progress --json` file restores the records alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mentor.workspace import Workspace, WorkspaceError, keep_backup

FORMAT = "mentor-workspace"
VERSION = 1
MAX_FILE_BYTES = 1 << 20  # exercise files are source code; anything larger is data, not carried


def export_workspace(ws: Workspace, store, course) -> dict:
    files, skipped = {}, []
    for path in sorted((ws.root / "exercises").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ws.root).as_posix()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError
            files[rel] = path.read_text(encoding="utf-8")
        except (ValueError, UnicodeDecodeError):
            skipped.append(rel)
    return {
        "format": FORMAT,
        "version": VERSION,
        "course": course.fingerprint,
        "store": store.export(),
        "files": files,
        "skipped": skipped,
    }


@dataclass
class ImportReport:
    records: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    backed_up: dict[str, str] = field(default_factory=dict)  # file -> where the workspace's own copy went
    same: int = 0


def read_transfer(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WorkspaceError(f"{path} cannot be read as JSON: {e}") from None
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path} is not a mentor export or progress file")
    if data.get("format") == FORMAT and (not isinstance(data.get("version"), int) or data["version"] > VERSION):
        raise WorkspaceError(f"{path} was exported by a newer mentor (format version {data.get('version')}); update mentor first")
    return data


def import_workspace(ws: Workspace, store, data: dict) -> ImportReport:
    """Records into the (empty) store first: if they cannot go in, no file has been touched."""
    report = ImportReport()
    files = (data.get("files") if data.get("format") == FORMAT else None) or {}
    exercises = (ws.root / "exercises").resolve()
    for rel, text in files.items():
        if not isinstance(text, str) or exercises not in (ws.root / rel).resolve().parents:
            raise WorkspaceError(f"the export names a file outside exercises/ or one that is not text: {rel!r}")
    report.records = store.import_(data.get("store", data))
    for rel, text in files.items():
        target = ws.root / rel
        new = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == new:
            report.same += 1
            continue
        if target.is_file():
            backup = keep_backup(ws, rel, "import: the workspace's own file, before the imported one")
            report.backed_up[rel] = ws.display(backup.copy)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(new)
        report.written.append(rel)
    return report
