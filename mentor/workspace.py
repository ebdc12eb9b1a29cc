"""The learner's workspace: a folder with `mentor.toml`, their exercise files and `progress.db`.

A clone of the course repository is a workspace; `mentor init DIR` makes a fresh one from the
content shipped inside the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mentor.curriculum import Course, Step

MARKER = "mentor.toml"
WORKSPACE_ENV = "MENTOR_WORKSPACE"
MARKER_TEXT = """\
# A mentor workspace: `mentor` looks for this file in the current folder and its parents.
# The learner's exercise files live under exercises/, progress in progress.db beside this file.
[workspace]
# Grade for another machine than this one (see `mentor hardware`), e.g. the 8 GB CPU box:
# target = "cpu-8gb"
"""


class WorkspaceError(Exception):
    """No usable workspace; the message says how to get one."""


@dataclass
class Workspace:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "progress.db"

    @property
    def state_dir(self) -> Path:
        return self.root / ".mentor"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def backup_dir(self) -> Path:
        return self.state_dir / "backups"

    def setting(self, name: str) -> str | None:
        """A value from the `[workspace]` table of mentor.toml (e.g. `target = "cpu-8gb"`)."""
        import tomllib

        try:
            data = tomllib.loads((self.root / MARKER).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise WorkspaceError(f"{self.root / MARKER} cannot be read: {e}") from None
        value = data.get("workspace", {}).get(name)
        return None if value is None else str(value)

    def exercise_path(self, step: Step) -> Path:
        return self.root / step.exercise

    def display(self, path: Path) -> str:
        """A path as the learner would type it from the workspace root."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def find_workspace(start: Path | None = None) -> Workspace:
    """The workspace holding `start` (default: the current folder), found like git finds a repo."""
    if os.environ.get(WORKSPACE_ENV):
        root = Path(os.environ[WORKSPACE_ENV]).expanduser().resolve()
        if not (root / MARKER).is_file():
            raise WorkspaceError(f"{WORKSPACE_ENV}={root} has no {MARKER}: create one with `mentor init {root}`")
        return Workspace(root)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return Workspace(folder)
    raise WorkspaceError(
        f"No mentor workspace here ({here} and its parents have no {MARKER}).\n"
        "Create one with `mentor init my-course` and `cd my-course`, or work inside a clone of the course."
    )


def init_workspace(dest: Path, course: Course) -> Workspace:
    """A fresh workspace: the marker, every exercise stub, an empty progress store."""
    dest = dest.expanduser().resolve()
    if (dest / MARKER).exists():
        raise WorkspaceError(f"{dest} is already a mentor workspace")
    if dest.exists() and any(dest.iterdir()):
        raise WorkspaceError(f"{dest} exists and is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    for step in course.steps:
        target = dest / step.exercise
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(course.content_root / step.exercise, target)
    (dest / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    (dest / ".gitignore").write_text("progress.db\nprogress.db-*\nprogress.db.damaged-*\n.mentor/\n", encoding="utf-8")
    return Workspace(dest)


def pristine_stub(course: Course, ws: Workspace, step: Step) -> bytes:
    """The exercise as the course ships it.

    A workspace made by `mentor init` restores from the package. In a clone the course content is
    the learner's own folder, so the stub comes from git at HEAD: the course's version, unless the
    learner committed their own work there.
    """
    packaged = course.content_root / step.exercise
    if course.content_root.resolve() != ws.root.resolve():
        return packaged.read_bytes()
    try:
        return subprocess.run(
            ["git", "show", f"HEAD:{step.exercise}"], cwd=ws.root, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        raise WorkspaceError(
            f"Cannot find the original of {step.exercise}: this workspace is a course checkout without git history."
        ) from None


def backup_exercise(ws: Workspace, step: Step) -> Path | None:
    """Copy the learner's file to .mentor/backups/ with a timestamp; None when there is no file."""
    current = ws.exercise_path(step)
    if not current.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = ws.backup_dir / f"{Path(step.exercise).stem}.{stamp}{current.suffix}"
    n = 1
    while backup.exists():
        backup = ws.backup_dir / f"{Path(step.exercise).stem}.{stamp}-{n}{current.suffix}"
        n += 1
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(current, backup)
    return backup


def reset_exercise(course: Course, ws: Workspace, step: Step) -> Path | None:
    """Restore the stub, keeping a backup of the learner's file. Returns the backup's path."""
    original = pristine_stub(course, ws, step)
    backup = backup_exercise(ws, step)
    target = ws.exercise_path(step)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(original)
    return backup
