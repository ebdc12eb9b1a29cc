"""The pytest plugin every hidden grader runs under.

It provides the `submission` and `reference` fixtures (modules imported by path from the
environment the runner sets) and writes a JSON-lines report: first the tests collected (before
any learner code is imported), then one line per test as it finishes. The runner derives the
verdict from that report, never from pytest's exit code.
"""

from __future__ import annotations

import errno
import faulthandler
import hashlib
import hmac
import importlib.util
import json
import os
import signal
import sys
import traceback
from pathlib import Path

import pytest

from mentor.grading import expect
from mentor.grading.expect import Misconception
from mentor.grading.runner import STACK_SIGNAL
from mentor.grading.seal import SEAL_ENV, Recorder

SUBMISSION_ENV = "MENTOR_SUBMISSION"
REFERENCE_ENV = "MENTOR_REFERENCE"
REPORT_ENV = "MENTOR_REPORT"
BUDGET_ENV = "MENTOR_BUDGET"  # JSON: {"profile": name, "limits": {...}} for the `budget` fixture
KEY_ENV = "MENTOR_KEY"  # hex key that signs each report line, set by the worker after it started
STACKS_ENV = "MENTOR_STACKS"  # where the Python stack goes when the runner signals a time limit
OUTPUT_KEPT = 4000  # characters of a test's captured output kept in the report: its start and its end
WARNINGS_KEPT = 10  # warnings kept per test


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
    global _report, _config
    _config = config
    for name in (SUBMISSION_ENV, REFERENCE_ENV, REPORT_ENV, BUDGET_ENV, SEAL_ENV, STACKS_ENV):
        if name in os.environ:
            _paths[name] = os.environ.pop(name)
    _report = _Report(_paths.get(REPORT_ENV), _read_key())
    if _paths.get(SEAL_ENV):
        expect.recorder = Recorder(_paths[SEAL_ENV], _report.write)
    _dump_stacks_on_signal(_paths.get(STACKS_ENV))
    fraction = os.environ.pop("MENTOR_CUDA_MEMORY_FRACTION", None)
    if fraction:  # grading a smaller card's profile on a bigger GPU
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(float(fraction))


_stacks_file = None


def _dump_stacks_on_signal(path: str | None) -> None:
    """At a time limit the runner sends STACK_SIGNAL before it kills us: the stack of every thread goes
    to `path`, written by the interpreter's C handler, so a loop that never returns to Python still
    says which line it was on."""
    global _stacks_file
    if path:
        _stacks_file = open(path, "w", encoding="utf-8")
        signal.signal(STACK_SIGNAL, _report_output_so_far)  # runs once the interpreter gets back to Python
        faulthandler.register(STACK_SIGNAL, file=_stacks_file, all_threads=True, chain=True)


_config = None  # pytest's, for its capture manager
_running: list[str] = []  # the nodeid of the test now running


def _report_output_so_far(signum, frame) -> None:
    """What the running test has printed so far: at a time limit it never reaches its report."""
    capture = _config.pluginmanager.getplugin("capturemanager") if _config else None
    if capture is None or not _running:
        return
    out, err = capture.read_global_capture()
    _report.write({"output_so_far": {"id": _running[-1], "output": _capped(out + err)}})


_docs: dict[str, str] = {}  # nodeid: the first line of its docstring, what the learner reads


def pytest_collection_finish(session):
    _examples_independent_of_loaded_code()
    _docs.update({item.nodeid: _first_line(getattr(item, "function", None)) for item in session.items})
    _report.write({"collected": [item.nodeid for item in session.items], "docs": _docs})


def _examples_independent_of_loaded_code() -> None:
    """Generated inputs that depend on the grader alone, never on the learner's file.

    Hypothesis draws some of its inputs from the literals in the source of every module loaded from
    outside the installed libraries: the grader, mentor, and the learner's own file. A correct file with
    other numbers in it then got other inputs than the reference's sealed run, and its pass read as
    tampering (seen: a 12345 in the learner's file became a generated seed). Runs after collection, when
    the graders have imported Hypothesis and before any learner code loads; its own constants stay."""
    if "hypothesis" not in sys.modules:
        return
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # a Hypothesis from before local constants: nothing to turn off
        return
    if hasattr(providers, "_get_local_constants"):  # tests/test_runner.py fails if a release moves it
        none = Constants()
        providers._get_local_constants = lambda: none


def pytest_keyboard_interrupt(excinfo):
    # The grader runs in its own session, so the learner's Ctrl-C never reaches it: this came from their code.
    _report.write({"keyboard_interrupt": _learner_frame(excinfo.value)[0]})


def pytest_runtest_logstart(nodeid, location):
    if expect.recorder is not None:
        expect.recorder.start(nodeid)
    _running[:] = [nodeid]
    _report.write({"started": nodeid})


def pytest_warning_recorded(warning_message, when, nodeid, location):
    """A warning raised while a test ran, reported beside its result (pytest tells us after the test)."""
    if when != "runtest" or not nodeid:
        return
    count = _warnings_seen[nodeid] = _warnings_seen.get(nodeid, 0) + 1
    if count > WARNINGS_KEPT:
        return
    w = warning_message
    text = f"{w.category.__name__}: {w.message}"
    _report.write({"warning": {"id": nodeid, "message": _capped(text, 500), "where": f"{w.filename}:{w.lineno}"}})


_warnings_seen: dict[str, int] = {}


def _capped(text: str, limit: int = OUTPUT_KEPT) -> str:
    """`text`, or its start and its end with a line between them saying how much was left out."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters not shown ...]\n{text[-tail:]}"


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
    """What went wrong loading the learner's file, once: the message, file:line, the line as written
    and the columns a caret goes under (1-based; 0 when unknown)."""
    if isinstance(e, SyntaxError):
        where = f"{e.filename or path}:{e.lineno}" if e.lineno else path
        line = (e.text or "").rstrip("\n")
        start = e.offset or 0
        end = e.end_offset if (e.end_offset or 0) > start and e.end_lineno in (None, e.lineno) else start + 1
        return {
            "kind": "syntax",
            "message": f"Python cannot parse your file: {e.msg} (line {e.lineno})",
            "where": where, "line": line, "column": start, "end_column": end if start else 0,
        }  # fmt: skip
    frame = _learner_frame_summary(e, path)
    found = frame is not None
    line = (frame.line or "") if found else ""
    start = getattr(frame, "colno", None) if found else None  # 0-based; 0 is the line's first character
    end = getattr(frame, "end_colno", None) if found and getattr(frame, "end_lineno", None) == frame.lineno else None
    stripped = len(line) - len(line.lstrip())  # the line is shown without its indent: shift the caret with it
    known = start is not None and start >= stripped
    return {
        "kind": "import",
        "message": f"Importing your file raised {type(e).__name__}: {e}",
        "where": f"{path}:{frame.lineno}" if found else "",
        "line": line.strip(),
        "column": start + 1 - stripped if known else 0,
        "end_column": end + 1 - stripped if known and end is not None and end > start else 0,
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
    frame = _learner_frame_summary(e, path)
    return (f"{path}:{frame.lineno}", (frame.line or "").strip()) if frame else ("", "")


def _learner_frame_summary(e: BaseException, path: str):
    target = os.path.realpath(path) if path else None
    found = None
    for frame in traceback.extract_tb(e.__traceback__):
        if target and os.path.realpath(frame.filename) == target:
            found = frame
    return found


def learner_traceback(e: BaseException) -> list[dict]:
    """The frames of `e`'s traceback in the learner's own files (the submission's folder), outermost
    first: where their code went, never the grader's source."""
    path = _paths.get(SUBMISSION_ENV, "")
    if not path:
        return []
    folder = os.path.dirname(os.path.realpath(path))
    frames = []
    for frame in traceback.extract_tb(e.__traceback__):
        real = os.path.realpath(frame.filename)
        if os.path.dirname(real) == folder:
            where = path if real == os.path.realpath(path) else frame.filename
            frames.append({"where": f"{where}:{frame.lineno}", "function": frame.name, "line": (frame.line or "").strip()})
    return frames


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
    return {"kind": "exception", "message": f"your code raised {type(e).__name__}: {e}", "where": where, "line": line,
            "traceback": learner_traceback(e)}  # fmt: skip


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
    captured = "".join(text for text in (rep.capstdout, rep.capstderr, rep.caplog) if text)
    if captured:  # the learner's print() and logging, per test (pytest's capture, at the file-descriptor level)
        entry["output"] = entry.get("output", "") + _capped(captured)
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
        if "output" in entry:
            entry["output"] = _capped(entry["output"])
        if entry["outcome"] == "passed" and not entry.get("ran"):
            entry["outcome"] = "failed"
            entry["message"] = "the test body did not run to completion"
        _report.write({"result": entry})
