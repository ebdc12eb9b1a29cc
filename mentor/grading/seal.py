"""Sealed expectations: what a grader compared, checked again outside the learner's process.

The learner's file runs inside the grader process, so in that process it can patch anything: the
reference module, NumPy, mentor's comparison helpers. To make such tampering show, every
`expect_close` / `expect_shape` / `expect_equal` call writes both of its values to a folder (one
`.npy` pair per comparison, named in a signed report line; `expect_equal` writes the bytes of its
plain values' encoding), keyed by test, call site and occurrence.

The same grader run on the reference solution, in a process that never loads learner code, gives
the sealed record: the expected values and the set of tests. After a passing run, the runner:
- recomputes each comparison from the values the learner's run reported, with the tolerance the
  sealed record holds (a patched `np.allclose` or a silenced helper passes nothing here);
- compares the learner run's expected values with the sealed ones (a patched reference or input
  shows as drift; values that legitimately depend on the learner's output stay within a tolerance
  ten times the comparison's own);
- requires comparisons wherever the sealed run made them, and the same tests.

Sealed records are cached per content (grader, reference, mentor and library versions, profile),
so the reference runs once per step and machine. What this cannot stop, and does not claim to: a
file written against mentor's internals that forges the recorded values themselves; the same
person could as well edit progress.db.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import operator
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from mentor.paths import GRADERS_DIR, PACKAGE_DIR

SEAL_ENV = "MENTOR_SEAL"  # the folder a grader run writes its compared values to
CACHE_ENV = "MENTOR_CACHE_DIR"
DRIFT_FACTOR = 10.0  # how far an expected value may move with the learner's output before it is tampering
_HELPERS = {str(PACKAGE_DIR / "grading" / "expect.py"), __file__}


# -- in the grader process -----------------------------------------------------------------------
class Recorder:
    """Writes each comparison's two values; `expect_close`, `expect_shape` and `expect_equal` call it."""

    def __init__(self, folder: str, write: Callable[[dict], None]):
        import numpy as np

        asarray = np.asarray
        self._save = np.save  # bound before learner code runs
        # C order, the shape kept as it is: np.ascontiguousarray would turn a 0-d value into shape (1,),
        # and a squeezed or unsqueezed result would then read as equal to the sealed one
        self._plain = lambda value: asarray(value, order="C")
        self.folder = Path(folder)
        self.write = write
        self.test = ""
        self.seen: dict[str, int] = {}
        self.count = 0

    def start(self, nodeid: str) -> None:
        self.test, self.seen = nodeid, {}

    def __call__(self, got, want, rtol: float, atol: float) -> None:
        site = _call_site()
        occurrence = self.seen[site] = self.seen.get(site, -1) + 1
        self.count += 1
        name = str(self.count)
        try:
            for side, value in (("got", got), ("want", want)):
                if value.dtype.kind == "c" and not value.imag.any():
                    value = value.real
                self._save(self.folder / f"{name}.{side}.npy", self._plain(value), allow_pickle=False)
        except (ValueError, TypeError, OSError):
            return  # not a numeric array: the comparison itself fails in the grader
        record = {"test": self.test, "key": f"{site}#{occurrence}", "file": name, "rtol": rtol, "atol": atol}
        self.write({"seal": record})


def _call_site() -> str:
    """`grader_file.py:line` of the grader code that asked for the comparison."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _HELPERS:
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"


# -- in the runner -------------------------------------------------------------------------------
@dataclass
class Sealed:
    """A grader's record from the reference's run: the tests it collects and what each compared."""

    collected: list[str]
    folder: Path
    records: dict[str, dict[str, dict]] = field(default_factory=dict)  # test -> key -> record

    def expected_bytes(self, record: dict) -> bytes:
        return self._want(record).read_bytes()

    def _want(self, record: dict) -> Path:
        return self.folder / f"{record['file']}.want.npy"

    def complete(self) -> bool:
        return all(self._want(r).is_file() for by_key in self.records.values() for r in by_key.values())


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mentor"


def seal_key(grader: str, reference: Path, setting: dict) -> str:
    """Changes whenever anything the sealed values depend on changes."""
    from importlib.util import find_spec

    from mentor import __version__

    digest = hashlib.sha256(json.dumps([grader, __version__, setting], sort_keys=True).encode())
    versions = []  # the libraries' version files, found without importing them (that costs ~0.1 s)
    for package in ("numpy", "torch"):
        spec = find_spec(package)
        if spec and spec.origin:
            versions.append(Path(spec.origin).parent / "version.py")
    grader_file = GRADERS_DIR / grader.split("::")[0]
    # mentor.lab: the models, tasks and data the graders of Phases 4 and 5 build their expected values from
    folders = (grader_file.parent, PACKAGE_DIR / "grading", PACKAGE_DIR / "lab", Path(reference).parent)
    for path in [*versions, *sorted(p for folder in folders for p in folder.glob("*.py"))]:
        if not path.is_file():
            continue
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def load(key: str) -> Optional[Sealed]:
    folder = cache_root() / "seals" / key
    try:
        data = json.loads((folder / "seal.json").read_text(encoding="utf-8"))
        sealed = Sealed(data["collected"], folder, data["records"])
        return sealed if sealed.complete() else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # not sealed yet, or a damaged entry: the reference runs again


def keep(key: str, collected: list[str], records: list[dict], values: Path) -> None:
    """Store a reference run's record; a concurrent run storing the same key is harmless."""
    root = cache_root() / "seals"
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    by_test: dict[str, dict[str, dict]] = {}
    for r in records:
        name = f"{r['file']}.want.npy"  # the reference's own output is never compared with again
        shutil.copyfile(values / name, staging / name)
        by_test.setdefault(r["test"], {})[r["key"]] = dict(r, nan_free=_nan_free(values / name))
    (staging / "seal.json").write_text(json.dumps({"collected": collected, "records": by_test}), encoding="utf-8")
    if load(key) is None:  # a damaged entry goes; a good one stored meanwhile by another run stays
        shutil.rmtree(root / key, ignore_errors=True)
    try:
        os.replace(staging, root / key)
    except OSError:  # sealed by another run in the meantime
        shutil.rmtree(staging, ignore_errors=True)


# The .npy dtypes a comparison can hold, as struct codes: read without NumPy, which would cost the
# CLI a tenth of a second to import.
_STRUCT_CODES = {
    "<f8": "d", "<f4": "f", "<f2": "e", "<i8": "q", "<i4": "i", "<i2": "h", "|i1": "b",
    "<u8": "Q", "<u4": "I", "<u2": "H", "|u1": "B", "|b1": "?",
}  # fmt: skip


def _nan_free(path: Path) -> bool:
    """NaN is never close to anything: only a NaN-free value may be confirmed by equal bytes alone."""
    try:
        return not any(map(math.isnan, read_npy(path)[1]))
    except ValueError:
        return False


def read_npy(path: Path) -> tuple[tuple, list]:
    """(shape, flat values) of a C-ordered .npy file as the recorder writes it."""
    return parse_npy(path.read_bytes(), path.name)


def parse_npy(data: bytes, name: str) -> tuple[tuple, list]:
    """(shape, flat values) of the bytes of .npy file `name`."""
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{name} is not an .npy file")
    size_bytes = 2 if data[6] == 1 else 4
    start = 8 + size_bytes
    end = start + int.from_bytes(data[8:start], "little")
    header = ast.literal_eval(data[start:end].decode("latin1"))
    code = _STRUCT_CODES.get(header["descr"])
    if code is None or header["fortran_order"]:
        raise ValueError(f"{name}: unsupported array layout {header['descr']}")
    shape = tuple(header["shape"])
    count = math.prod(shape)
    size = count * struct.calcsize(code)
    if len(data) - end != size:
        raise ValueError(f"{name}: {len(data) - end} bytes of values where {shape} needs {size}")
    if sys.byteorder == "little" and code != "e":  # the file's order: one C-level copy, 10x struct's speed
        return shape, memoryview(data)[end:].cast(code).tolist()
    return shape, list(struct.unpack_from(f"<{count}{code}", data, end))


def verify(sealed: Sealed, collected: list[str], passed: list[str], records: list[dict], values: Path) -> dict[str, str]:
    """Problems found in a run that reported `passed` tests, by test id (empty: nothing found)."""
    if sorted(collected) != sorted(sealed.collected):
        missing = sorted(set(sealed.collected) - set(collected)) or sorted(set(collected) - set(sealed.collected))
        return {
            t: "the grader's set of tests was changed: this test is not where the grader expects it"
            for t in missing
        }
    mine: dict[str, dict[str, dict]] = {}
    for r in records:
        mine.setdefault(r["test"], {})[r["key"]] = r
    problems = {}
    for test in passed:
        expected = sealed.records.get(test, {})
        if expected and not mine.get(test):
            problems[test] = "reported a pass without making any of the grader's comparisons"
            continue
        for key, record in mine.get(test, {}).items():
            if key in expected:
                problem = _check(record, expected[key], values, sealed)
                if problem:
                    problems[test] = problem  # the call site names the hidden grader: not shown
                    break
    return problems


def _check(record: dict, sealed_record: dict, values: Path, sealed: Sealed) -> str:
    rtol, atol = sealed_record["rtol"], sealed_record["atol"]
    files = [values / f"{record['file']}.{side}.npy" for side in ("got", "want")]
    try:
        got_data, want_data = (f.read_bytes() for f in files)
        sealed_data = sealed.expected_bytes(sealed_record)
        if sealed_record.get("nan_free") and got_data == want_data == sealed_data:
            return ""  # the reference's own values, to the bit: close without reading a number
        got, want = parse_npy(got_data, files[0].name), parse_npy(want_data, files[1].name)
        sealed_want = parse_npy(sealed_data, "the sealed value")
    except (OSError, ValueError):
        return "the values it compared could not be read back"
    if not _close(want, sealed_want, DRIFT_FACTOR * rtol, DRIFT_FACTOR * atol):
        return "the expected value changed while your code was loaded"
    if not _close(got, want, rtol, atol):
        return "your value does not match the expected one, although the comparison said it did"
    return ""


def _close(a: tuple, b: tuple, rtol: float, atol: float) -> bool:
    """NumPy's allclose on two (shape, values) pairs: |a - b| <= atol + rtol·|b|, infinities equal, nan never.

    Equal lists (NaN never equals) and, without infinities, the tolerance test are evaluated by
    builtins over whole lists, at C speed: a numerical gradient holds 10^5 values. Only a list that
    fails both is gone through value by value, for the infinities they leave out.
    """
    (shape_a, xs), (shape_b, ys) = a, b
    if shape_a != shape_b:
        return False
    xs, ys = list(xs), list(ys)
    if xs == ys:
        return True
    if math.inf not in ys and -math.inf not in ys:  # an infinite b would allow any a
        allowed = map(operator.add, itertools.repeat(atol), map(operator.mul, itertools.repeat(rtol), map(abs, ys)))
        if all(map(operator.le, map(abs, map(operator.sub, xs, ys)), allowed)):
            return True
    finite = math.isfinite
    return all(x == y or (finite(x) and finite(y) and abs(x - y) <= atol + rtol * abs(y)) for x, y in zip(xs, ys))
