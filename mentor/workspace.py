"""The learner's workspace: a folder with `mentor.toml`, their exercise files and `progress.db`.

The workspace and the course are two things. The course (curriculum, stubs, solutions, graders) is
read-only content shipped with mentor; `mentor init DIR` makes a workspace from it, and only the
workspace is the learner's. Stubs come from the course as shipped (mentor.content), never from a
file anybody edited. `.mentor/course.json` remembers which stub each exercise file started from,
so that `mentor update` can tell the learner's work from an untouched stub. Every file mentor
replaces is first kept in `.mentor/backups/`, where `mentor reset --list/--undo` find it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from mentor.content import sha256, shipped_files
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

    @property
    def manifest_path(self) -> Path:
        return self.state_dir / "course.json"

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
    for folder in (here, *here.parents):
        if (folder / "progress.db").is_file() and (folder / "curriculum").is_dir():
            raise WorkspaceError(
                f"{folder} is the course's own checkout, where an earlier mentor kept your work; the course and your "
                "workspace are now two folders.\n"
                f"Move your exercise files and progress into a workspace of your own: `mentor init ~/llm-course --from {folder}`"
            )
    raise WorkspaceError(
        f"No mentor workspace here ({here} and its parents have no {MARKER}).\n"
        "Create one with `mentor init ~/llm-course` and `cd ~/llm-course` (a workspace is your own folder, "
        "never the course's source)."
    )


def init_workspace(dest: Path, course: Course) -> Workspace:
    """A fresh workspace: the marker, every exercise stub as the course ships it, its manifest."""
    dest = dest.expanduser().resolve()
    if (dest / MARKER).exists():
        raise WorkspaceError(f"{dest} is already a mentor workspace")
    if dest.exists() and any(dest.iterdir()):
        raise WorkspaceError(f"{dest} exists and is not empty: choose a new folder")
    stubs = course_stubs(course)
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in stubs.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (dest / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    # capstone/: checkpoints and token shards of `mentor capstone train`, hundreds of MB at its sizes
    (dest / ".gitignore").write_text("progress.db\nprogress.db-*\nprogress.db.damaged-*\n.mentor/\ncapstone/\n", encoding="utf-8")
    ws = Workspace(dest)
    write_manifest(ws, Manifest.of(course, stubs))
    return ws


def course_stubs(course: Course) -> dict[str, bytes]:
    """Every exercise stub of the course, as shipped."""
    try:
        return shipped_files(course.content_root, [s.exercise for s in course.steps])
    except FileNotFoundError as e:
        raise WorkspaceError(str(e)) from None


def pristine_stub(course: Course, step: Step) -> bytes:
    """The exercise of `step` as the course ships it."""
    try:
        return shipped_files(course.content_root, [step.exercise])[step.exercise]
    except FileNotFoundError as e:
        raise WorkspaceError(str(e)) from None


# -- what the workspace was made from ---------------------------------------------------------
@dataclass
class Manifest:
    """`.mentor/course.json`: the course a workspace was made from or last updated to."""

    fingerprint: str = ""
    steps: list[str] = field(default_factory=list)
    stubs: dict[str, str] = field(default_factory=dict)  # exercise path -> sha256 of its stub then
    update_mentioned: str = ""  # the course fingerprint `mentor next` last mentioned as an update

    @classmethod
    def of(cls, course: Course, stubs: dict[str, bytes]) -> Manifest:
        return cls(course.fingerprint, [s.id for s in course.steps], {rel: sha256(b) for rel, b in stubs.items()})


def read_manifest(ws: Workspace) -> Manifest | None:
    """None for a workspace made before manifests existed, or whose manifest was lost."""
    try:
        data = json.loads(ws.manifest_path.read_text(encoding="utf-8"))
        return Manifest(**{k: v for k, v in data.items() if k in Manifest.__dataclass_fields__})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def write_manifest(ws: Workspace, manifest: Manifest) -> None:
    ws.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = ws.manifest_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(vars(manifest), indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, ws.manifest_path)


def update_to_mention(ws: Workspace, course: Course) -> bool:
    """True once per course version the workspace was not made from: `mentor next` mentions it."""
    manifest = read_manifest(ws) or Manifest()
    if manifest.fingerprint == course.fingerprint or manifest.update_mentioned == course.fingerprint:
        return False
    manifest.update_mentioned = course.fingerprint
    try:
        write_manifest(ws, manifest)
    except OSError:
        pass  # a read-only workspace hears about it every time
    return True


# -- backups ---------------------------------------------------------------------------------------
@dataclass
class Backup:
    """A copy of a learner's file, kept before mentor replaced it."""

    folder: Path
    file: str  # the exercise path it was, relative to the workspace
    at: float
    reason: str
    step: str = ""

    @property
    def copy(self) -> Path:
        return self.folder / Path(self.file).name


def keep_backup(ws: Workspace, relpath: str, reason: str, step: str = "") -> Backup | None:
    """Copy the workspace's `relpath` into a backup of its own; None when there is no such file."""
    current = ws.root / relpath
    if not current.is_file():
        return None
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1e6) % 1_000_000:06d}"
    folder, n = ws.backup_dir / stamp, 1
    while folder.exists():  # several in the same microsecond
        folder, n = ws.backup_dir / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    backup = Backup(folder, relpath, now, reason, step)
    backup.copy.write_bytes(current.read_bytes())
    meta = {"file": relpath, "at": now, "reason": reason, "step": step}
    (folder / "backup.json").write_text(json.dumps(meta), encoding="utf-8")
    return backup


def list_backups(ws: Workspace) -> list[Backup]:
    """Every backup, newest first."""
    found = []
    for meta in ws.backup_dir.glob("*/backup.json"):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            found.append(Backup(meta.parent, data["file"], float(data["at"]), data.get("reason", ""), data.get("step", "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged backup is skipped, never deleted
    return sorted(found, key=lambda b: (b.at, b.folder.name), reverse=True)


def restore_backup(ws: Workspace, backup: Backup) -> Backup | None:
    """Put a backup back in place; the file it replaces is itself kept first, so undo can be undone."""
    kept = keep_backup(ws, backup.file, f"before undoing to the backup of {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(backup.at))}", backup.step)
    target = ws.root / backup.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(backup.copy.read_bytes())
    return kept


# -- reset -----------------------------------------------------------------------------------------
@dataclass
class ResetPlan:
    """What `mentor reset STEP` will do to the step's exercise file."""

    step: Step
    file: str
    replace: list[str]  # the definitions restored; empty: the whole file
    keep: list[str]  # other steps' definitions in the same file, left as they are
    new_text: bytes
    problem: str = ""  # why only the whole file can be restored, when a part was asked for

    @property
    def whole_file(self) -> bool:
        return not self.replace


def plan_reset(course: Course, ws: Workspace, step: Step, whole_file: bool = False) -> ResetPlan:
    """The step's definitions from the pristine stub, or the whole stub when the file is the step's alone."""
    from mentor.source_edit import replace_definitions

    stub = pristine_stub(course, step)
    others = [x for x in course.steps_sharing(step.exercise) if x is not step]
    keep = [name for x in others for name in (x.defines or [])]
    current = ws.exercise_path(step)
    if whole_file or not others or not step.defines or not current.is_file():
        return ResetPlan(step, step.exercise, [], keep if current.is_file() else [], stub)
    try:
        text = replace_definitions(current.read_text(encoding="utf-8"), stub.decode("utf-8"), step.defines)
    except SyntaxError as e:
        problem = f"{ws.display(current)} does not parse (line {e.lineno}: {e.msg}), so its parts cannot be told apart"
        return ResetPlan(step, step.exercise, list(step.defines), keep, b"", problem)
    except UnicodeDecodeError:
        return ResetPlan(step, step.exercise, list(step.defines), keep, b"", f"{ws.display(current)} is not UTF-8 text")
    return ResetPlan(step, step.exercise, list(step.defines), keep, text.encode("utf-8"))


def apply_reset(ws: Workspace, plan: ResetPlan) -> Backup | None:
    """Write the plan, keeping a backup of the whole file first."""
    if plan.problem:
        raise WorkspaceError(plan.problem)
    what = "the whole file" if plan.whole_file else ", ".join(plan.replace)
    backup = keep_backup(ws, plan.file, f"reset {plan.step.id}: {what}", plan.step.id)
    target = ws.root / plan.file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(plan.new_text)
    return backup
