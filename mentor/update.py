"""`mentor update`: bring a workspace up to the installed course without losing a line of the learner's.

For every exercise file the course ships, comparing three versions (the stub the workspace started
from, as its manifest remembers it; the learner's file; the course's new stub):
- missing in the workspace: the new stub is written (a new step, usually);
- the learner never edited it, or it already equals the new stub: it becomes the new stub;
- the learner edited it and the course did not change it: left alone;
- both changed it (or the workspace cannot tell what it started from): the learner's file is left
  alone and the new stub is written beside it as NAME.new.py, to compare and merge by hand.
Records follow steps the course renamed; records of steps the course removed are kept and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mentor.content import sha256
from mentor.curriculum import Course
from mentor.workspace import Manifest, Workspace, course_stubs, keep_backup, read_manifest, write_manifest


@dataclass
class UpdateReport:
    new_steps: list[str] = field(default_factory=list)
    removed_steps: list[str] = field(default_factory=list)  # in the records, gone from the course
    renamed: dict[str, str] = field(default_factory=dict)  # old -> new, for ids the records used
    written: list[str] = field(default_factory=list)  # new files
    replaced: list[str] = field(default_factory=list)  # untouched stubs brought up to date
    beside: dict[str, str] = field(default_factory=dict)  # learner's file -> the new stub beside it
    unchanged: int = 0
    known_start: bool = True  # False: no manifest, so an edited file could not be compared with its start

    @property
    def changed(self) -> bool:
        return bool(self.new_steps or self.renamed or self.written or self.replaced or self.beside)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"changed": self.changed}


def beside_name(relpath: str) -> str:
    path = Path(relpath)
    return str(path.with_name(f"{path.stem}.new{path.suffix}"))


def update_workspace(course: Course, ws: Workspace, store, dry_run: bool = False) -> UpdateReport:
    """Bring `ws` to `course`; with `dry_run`, only say what would change."""
    manifest = read_manifest(ws)
    report = UpdateReport(known_start=manifest is not None)
    started_from = manifest.stubs if manifest else {}
    known_steps = set(manifest.steps) if manifest else set()
    recorded = store.step_ids()
    course_ids = {s.id for s in course.steps}
    report.renamed = {old: new for old, new in course.renamed.items() if old in recorded or old in known_steps}
    report.new_steps = [s.id for s in course.steps if manifest and s.id not in known_steps and s.id not in report.renamed.values()]
    report.removed_steps = sorted(recorded - course_ids - set(report.renamed))

    stubs = course_stubs(course)
    for rel, new in stubs.items():
        target = ws.root / rel
        if not target.is_file():
            report.written.append(rel)
            if not dry_run:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(new)
            continue
        mine = target.read_bytes()
        base = started_from.get(rel)
        if mine == new or (base is not None and sha256(new) == base):
            report.unchanged += 1  # up to date, or the course did not change what the learner edited
        elif base is not None and sha256(mine) == base:
            report.replaced.append(rel)
            if not dry_run:
                keep_backup(ws, rel, "update: the stub you had not edited, before the course's new version")
                target.write_bytes(new)
        else:
            report.beside[rel] = beside_name(rel)
            if not dry_run:
                (ws.root / report.beside[rel]).write_bytes(new)
    if not dry_run:
        if report.renamed:
            store.rename_steps(report.renamed)
        write_manifest(ws, Manifest.of(course, stubs))
    return report
