"""The course's files as shipped: what `mentor init`, `reset` and `update` copy into a workspace.

The learner never edits the course, but a course checkout is an ordinary folder that someone can
edit. So the pristine version of a file is read from where the course was shipped:
- an installed package: its `mentor/_content` copy (nobody edits site-packages by hand);
- `MENTOR_CONTENT`: the author's folder exactly as it is, since they named it on purpose;
- a source checkout: the file as committed at git's HEAD, so an edit in the checkout's own
  `exercises/` never becomes a learner's "stub"; a file git does not track yet (a step an author
  is still writing) is read from the folder.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from mentor.paths import CONTENT_ENV, PACKAGE_DIR


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_files(content_root: Path, relpaths: list[str]) -> dict[str, bytes]:
    """The pristine bytes of each file under `content_root` (paths relative to it, '/'-separated)."""
    wanted = sorted(set(relpaths))
    committed = {} if _as_it_is(content_root) else _from_git_head(content_root, wanted)
    out = {}
    for rel in wanted:
        data = committed.get(rel)
        if data is None:
            try:
                data = (content_root / rel).read_bytes()
            except OSError as e:
                raise FileNotFoundError(f"the course has no {rel} ({e.strerror})") from None
        out[rel] = data
    return out


def _as_it_is(content_root: Path) -> bool:
    packaged = (PACKAGE_DIR / "_content").resolve()
    return bool(os.environ.get(CONTENT_ENV)) or content_root.resolve() == packaged


def _from_git_head(content_root: Path, relpaths: list[str]) -> dict[str, bytes]:
    """Each path's blob at HEAD, read in one `git cat-file --batch`; {} outside a git checkout."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=content_root, capture_output=True, text=True, check=True
        ).stdout.strip()
        prefix = content_root.resolve().relative_to(Path(top).resolve()).as_posix()
    except (OSError, subprocess.CalledProcessError, ValueError):
        return {}
    names = [rel if prefix in ("", ".") else f"{prefix}/{rel}" for rel in relpaths]
    try:
        proc = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=content_root, capture_output=True, check=True,
            input="".join(f"HEAD:{name}\n" for name in names).encode(),
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return {}
    out, data = {}, proc.stdout
    for rel in relpaths:
        header, _, data = data.partition(b"\n")
        if header.endswith(b" missing"):
            continue  # not committed yet: the folder's copy is the only one
        size = int(header.split()[2])
        out[rel], data = data[:size], data[size + 1 :]
    return out


def copy_shipped(content_root: Path, dest: Path, folders: tuple[str, ...]) -> Path:
    """A copy of `folders` of the course under `dest`, to edit in a test or an experiment (point
    MENTOR_CONTENT at it): the exercise stubs as shipped, whatever was edited in the checkout's
    exercises/; the author's curriculum, solutions and catalogues as they are."""
    files = [path for folder in folders for path in (content_root / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    stubs = [p.relative_to(content_root).as_posix() for p in files if p.relative_to(content_root).parts[0] == "exercises"]
    shipped = shipped_files(content_root, stubs)
    for path in files:
        rel = path.relative_to(content_root).as_posix()
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shipped[rel] if rel in shipped else path.read_bytes())
    return dest
