"""The pytest plugin every hidden grader runs under.

It provides the `submission` and `reference` fixtures (modules imported by path from the
environment the runner sets) and writes a JSON-lines report: first the tests collected (before
any learner code is imported), then one line per test as it finishes. The runner derives the
verdict from that report, never from pytest's exit code.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

import pytest

from mentor.grading import expect
from mentor.grading.expect import Misconception
from mentor.grading.seal import SEAL_ENV, Recorder

SUBMISSION_ENV = "MENTOR_SUBMISSION"
REFERENCE_ENV = "MENTOR_REFERENCE"
REPORT_ENV = "MENTOR_REPORT"
BUDGET_ENV = "MENTOR_BUDGET"  # JSON: {"profile": name, "limits": {...}} for the `budget` fixture
KEY_ENV = "MENTOR_KEY"  # hex key that signs each report line, set by the worker after it started


def _signer(key: bytes):
    def sign(line: str) -> str:
        return hmac.new(key, line.encode("utf-8"), hashlib.sha256).hexdigest() if key else ""

    return sign


class _Report:
    """Where results go. Each line carries an HMAC under a key the runner handed over a pipe, so
    lines written by anything but this plugin (the learner's code, say) are recognised as forged."""

    def __init__(self, path: str | None, key: bytes = b""):
        self._file = open(path, "a", encoding="utf-8") if path else None
        self._sign = _signer(key)

    def write(self, record: dict) -> None:
        if self._file:
            line = json.dumps(record)
            self._file.write(f"{line}\t{self._sign(line)}\n")
            self._file.flush()


_report = _Report(None)
_load_errors: dict[str, dict] = {}
_paths: dict[str, str] = {}


def _read_key() -> bytes:
    return bytes.fromhex(os.environ.pop(KEY_ENV, ""))


def pytest_configure(config):
    """Runs before any learner code: take what the runner passed, and leave no trace of it."""
    global _report
    for name in (SUBMISSION_ENV, REFERENCE_ENV, REPORT_ENV, BUDGET_ENV, SEAL_ENV):
        if name in os.environ:
            _paths[name] = os.environ.pop(name)
    _report = _Report(_paths.get(REPORT_ENV), _read_key())
    if _paths.get(SEAL_ENV):
        expect.recorder = Recorder(_paths[SEAL_ENV], _report.write)
    fraction = os.environ.pop("MENTOR_CUDA_MEMORY_FRACTION", None)
    if fraction:  # grading a smaller card's profile on a bigger GPU
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(float(fraction))


def pytest_collection_finish(session):
    _report.write({"collected": [item.nodeid for item in session.items]})


def pytest_keyboard_interrupt(excinfo):
    # The grader runs in its own session, so the learner's Ctrl-C never reaches it: this came from their code.
    _report.write({"keyboard_interrupt": _learner_frame(excinfo.value)[0]})


def pytest_runtest_logstart(nodeid, location):
    if expect.recorder is not None:
        expect.recorder.start(nodeid)
    _report.write({"started": nodeid})


def load_module_from(path: str, name: str, isolate: bool = False):
    """Import a Python file by path; its folder goes on sys.path so it can import its siblings.

    With `isolate`, the folder and the sibling modules it imported are taken out of sys.path and
    sys.modules afterwards, so the reference's `mlp` never shadows the learner's `mlp`.
    """
    folder = str(Path(path).parent)
    before = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        if isolate:
            sys.path.remove(folder)
            for added in set(sys.modules) - before - {name}:
                origin = getattr(sys.modules[added], "__file__", None) or ""
                if os.path.dirname(os.path.realpath(origin)) == os.path.realpath(folder):
                    del sys.modules[added]
    return module


def _load_fixture_module(env: str, name_prefix: str):
    path = _paths.get(env)
    if not path:
        pytest.fail(f"{env} is not set: run graders through `mentor check`", pytrace=False)
    if path in _load_errors:
        pytest.fail(_load_errors[path]["message"], pytrace=False)
    stem = Path(path).stem
    try:
        name = f"{name_prefix}{stem}" if name_prefix else stem
        return load_module_from(path, name, isolate=bool(name_prefix))
    except BaseException as e:  # anything the learner's module does at import time, exits included
        record = describe_load_error(e, path)
        _load_errors[path] = record
        _report.write({"load_error": record})
        pytest.fail(record["message"], pytrace=False)


def describe_load_error(e: BaseException, path: str) -> dict:
    if isinstance(e, SyntaxError):
        line = (e.text or "").rstrip()
        return {
            "kind": "syntax",
            "message": f"Python cannot parse your file: {e.msg} (line {e.lineno})",
            "where": f"{path}:{e.lineno}",
            "line": line,
        }
    where, line = _learner_frame(e, path)
    return {
        "kind": "import",
        "message": f"Importing your file raised {type(e).__name__}: {e}",
        "where": where,
        "line": line,
    }


@pytest.fixture(scope="session")
def reference():
    """The course's reference solution, for expected values."""
    return _load_fixture_module(REFERENCE_ENV, "reference_")


@pytest.fixture(scope="session")
def submission(reference):
    """The learner's exercise module. Depends on `reference` so expected code loads first."""
    return _load_fixture_module(SUBMISSION_ENV, "")


@pytest.fixture(scope="session")
def budget():
    """Speed and memory budgets for the active hardware profile; every figure goes into the report."""
    from mentor.grading.budget import Budgets

    spec = json.loads(_paths.get(BUDGET_ENV) or "{}")
    return Budgets(spec.get("limits", {}), spec.get("profile", ""), lambda m: _report.write({"measurement": m}))


def _learner_frame(e: BaseException, path: str | None = None) -> tuple[str, str]:
    """The innermost traceback frame in the learner's file: where their code went wrong."""
    path = path or _paths.get(SUBMISSION_ENV, "")
    target = os.path.realpath(path) if path else None
    found = ("", "")
    for frame in traceback.extract_tb(e.__traceback__):
        if target and os.path.realpath(frame.filename) == target:
            found = (f"{path}:{frame.lineno}", (frame.line or "").strip())
    return found


def classify_failure(e: BaseException) -> dict:
    """What the learner should read about an exception raised inside a test."""
    if isinstance(e, Misconception):
        where, line = _learner_frame(e)
        return {"kind": "misconception", "message": e.why, "diff": e.diff, "where": where, "line": line}
    if isinstance(e, NotImplementedError):
        return {"kind": "not_implemented", "message": "still raises NotImplementedError: not written yet"}
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        return {"kind": "output", "message": "wrote more output than the grader allows"}
    if isinstance(e, MemoryError):
        return {"kind": "memory", "message": "ran out of memory (MemoryError) under the step's memory limit"}
    if isinstance(e, pytest.fail.Exception):
        return {"kind": "load_error", "message": str(e)}
    if isinstance(e, AttributeError) and getattr(getattr(e, "obj", None), "__file__", None) == _paths.get(SUBMISSION_ENV):
        return {"kind": "exception", "message": f"your file does not define `{e.name}`: keep the names the stub gives"}
    where, line = _learner_frame(e)
    if isinstance(e, AssertionError) and not where:
        return {"kind": "misconception", "message": str(e) or "an expectation of the grader failed"}
    return {"kind": "exception", "message": f"your code raised {type(e).__name__}: {e}", "where": where, "line": line}


_results: dict[str, dict] = {}


def _first_line(fn) -> str:
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    entry = _results.setdefault(
        item.nodeid,
        {
            "id": item.nodeid,
            "name": item.name,
            "doc": _first_line(getattr(item, "function", None)),
            "outcome": "passed",
            "duration": 0.0,
        },
    )
    entry["duration"] += rep.duration
    if rep.when == "call" and rep.passed and entry["outcome"] == "passed":
        entry["ran"] = True
    if rep.skipped:
        entry["outcome"] = "skipped"
        entry.setdefault("message", "the test was skipped; every test must run")
    elif rep.failed and entry["outcome"] != "failed":
        entry["outcome"] = "failed"
        entry["phase"] = rep.when
        if call.excinfo is not None:
            entry.update(classify_failure(call.excinfo.value))
    if rep.when == "teardown":
        if entry["outcome"] == "passed" and not entry.get("ran"):
            entry["outcome"] = "failed"
            entry["message"] = "the test body did not run to completion"
        _report.write({"result": entry})
