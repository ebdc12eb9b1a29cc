"""Run a hidden grader on a learner's file in a separate process, and decide the verdict.

The grader process runs in its own session (so the whole tree can be killed), under a wall-time
limit, a memory cap and an output cap. The verdict is derived from the plugin's JSON-lines report
and the set of tests it collected, never from the exit code alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional

from mentor.grading import seal
from mentor.grading.spawn import GRADER_ENV, WorkerProcess, WorkerTimeout, spawn_worker
from mentor.paths import GRADERS_DIR

OUTPUT_CAP_BYTES = 32 << 20  # what the grader process may write to any file, its output included
OUTPUT_SHOWN_BYTES = 4000
PROGRESS_EVERY_S = 0.1  # how often a caller watching the grader hears how far it got
STACK_SIGNAL = signal.SIGUSR1  # asks a grader at its time limit for its stack (the plugin's handler)
STACK_WAIT_S = 1.0  # how long a grader at its time limit gets to write its stack before it is killed

STATUS_MESSAGES = {
    "passed": "All tests passed.",
    "not_started": "Not started yet: every function still raises NotImplementedError.",
    "failed": "Some tests failed.",
}


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    outcome: str  # passed | failed | skipped | missing
    doc: str = ""
    kind: str = ""  # misconception | not_implemented | exception | memory | load_error | missing
    message: str = ""
    diff: str = ""
    where: str = ""
    line: str = ""
    duration: float = 0.0
    output: str = ""  # what the learner's code printed or logged during this test (capped)
    warnings: list[dict] = field(default_factory=list)  # what Python warned about during this test: message, where
    traceback: list[dict] = field(default_factory=list)  # the learner's frames, outermost first: where, function, line


@dataclass
class GradeResult:
    status: str  # passed | failed | not_started | error | timeout | memory | crashed | tampered | interrupted
    message: str
    tests: list[TestResult] = field(default_factory=list)
    duration_s: float = 0.0
    output: str = ""
    where: str = ""  # file:line of a syntax or import error, or of the line running at a time limit
    line: str = ""
    column: int = 0  # where a caret goes under `line` (1-based; 0: no caret)
    end_column: int = 0
    measurements: list[dict] = field(default_factory=list)  # budget figures the grader took

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GradeRequest:
    grader: str  # relative to GRADERS_DIR, optionally with ::selector
    submission: Path
    reference: Path
    cwd: Path
    timeout_s: float = 60.0
    memory_mb: int = 4096
    profile: str = ""  # the hardware profile graded for
    budget: dict = field(default_factory=dict)  # the step's budget limits for that profile
    threads: int = 0  # pin BLAS/torch threads (0: leave as is)
    hide_cuda: bool = False  # grade a CPU profile on a machine that has a GPU
    cuda_memory_fraction: float = 0.0  # cap CUDA memory to this share of the device (0: no cap)


class GradingInterrupted(Exception):
    """The learner pressed Ctrl-C: the grader's process tree is gone; `result` says so."""

    def __init__(self, result: GradeResult):
        super().__init__(result.message)
        self.result = result


def pytest_command(grader: str, python: str = sys.executable) -> list[str]:
    """The pytest command line for a grader, the same for `mentor check` and the benchmark."""
    return [
        python, "-m", "pytest", str(GRADERS_DIR / grader),
        "-c", str(GRADERS_DIR / "pytest.ini"), "--rootdir", str(GRADERS_DIR),
        "-p", "mentor.grading.plugin", "-p", "no:cacheprovider", "--import-mode=importlib",
        "--assert=plain", "-q", "--no-header", "--tb=no", "-rN", "-W", "ignore::DeprecationWarning",
    ]  # fmt: skip


class GraderWorker:
    """A grader process started ahead of its job (see worker.py); `mentor check` starts one first thing.

    Its output goes to a temporary file; `cancel` ends it when there turns out to be nothing to grade.
    """

    def __init__(self, prestarted=None):
        self.proc, self.output = prestarted or spawn_worker()

    def send(self, req: GradeRequest, report_path: Path, key: bytes, values: Path, stacks: Path) -> None:
        job = self.job(req, report_path, key, values, stacks)
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the worker died while starting; its exit status and output tell the verdict

    @staticmethod
    def job(req: GradeRequest, report_path: Path, key: bytes, values: Path, stacks: Path) -> dict:
        """What the grader process is told: the environment to add, its limits, its folder, pytest's arguments."""
        env = {
            "MENTOR_STACKS": str(stacks),
            seal.SEAL_ENV: str(values),
            "MENTOR_SUBMISSION": str(req.submission),
            "MENTOR_REFERENCE": str(req.reference),
            "MENTOR_REPORT": str(report_path),
            "MENTOR_KEY": key.hex(),
            "MENTOR_BUDGET": json.dumps({"profile": req.profile, "limits": req.budget}),
        }
        if req.threads:
            env.update({v: str(req.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
        if req.hide_cuda:
            env["CUDA_VISIBLE_DEVICES"] = ""
        if req.cuda_memory_fraction:
            env["MENTOR_CUDA_MEMORY_FRACTION"] = str(req.cuda_memory_fraction)
        return {
            "env": env,
            "memory_mb": req.memory_mb,
            "output_cap": OUTPUT_CAP_BYTES,
            "cwd": str(req.cwd),
            "args": pytest_command(req.grader)[3:],  # what follows `python -m pytest`
        }

    def cancel(self) -> None:
        _kill_tree(self.proc)
        self.output.close()


def _kill_tree(proc) -> None:
    if proc.pid:  # never 0: killpg(0) would be our own group
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()


class WarmGrader:
    """A warm grader (zygote.py) for checks in a row: it imports pytest, NumPy and torch once, and
    `worker()` hands out a worker that runs the next check in a fresh child forked from it.

    If it is not up yet, or has died, `worker()` hands out a cold worker instead: a check never waits
    for it, and never depends on it."""

    def __init__(self):
        import subprocess

        from mentor.grading.spawn import worker_env

        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mentor.grading.zygote"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=worker_env(), start_new_session=True,
        )  # fmt: skip
        self._lines = _Lines(self._proc.stdout.fileno())
        self._ready = False

    def wait_ready(self, timeout: float) -> bool:
        """True once the imports are done (waiting at most `timeout` seconds for them)."""
        if not self._ready and self._proc.poll() is None:
            self._ready = self._lines.read(timeout) == "ready"
        return self._ready and self._proc.poll() is None

    def worker(self) -> GraderWorker:
        return ForkedWorker(self) if self.wait_ready(0) else GraderWorker()

    def _start(self, job: dict) -> int:
        """Send `job`; the child's pid, or 0 when the warm grader is gone."""
        try:
            self._proc.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            return 0
        answer = self._lines.read(10.0)
        return int(answer.split()[1]) if answer.startswith("pid ") else 0

    def _exit_status(self, timeout: Optional[float]) -> Optional[int]:
        """The raw wait status of the child running now; None if it is still running after `timeout`."""
        answer = self._lines.read(timeout)
        if answer.startswith("exit "):
            return int(answer.split()[1])
        if answer == "" and self._lines.closed:
            self._ready = False
            return 70 << 8  # the warm grader itself ended: no verdict from this child
        return None

    def close(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait()
        self._proc.stdin.close()
        self._proc.stdout.close()


class _Lines:
    """Lines from a pipe, read with a timeout."""

    def __init__(self, fd: int):
        self.fd, self.buffer, self.closed = fd, b"", False

    def read(self, timeout: Optional[float]) -> str:
        """The next line without its newline; "" when none came within `timeout` or the pipe closed."""
        import select

        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if self.closed:
                return ""
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.fd], [], [], left)[0]:
                return ""
            chunk = os.read(self.fd, 4096)
            self.closed = not chunk
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8", errors="replace")


class ForkedWorker(GraderWorker):
    """A worker that is a child forked by the warm grader when its job arrives."""

    def __init__(self, warm: WarmGrader):
        self.warm = warm
        self.output = tempfile.NamedTemporaryFile("w+b", prefix="mentor-output-")
        self.proc = _ForkedProcess(warm)

    def send(self, req: GradeRequest, report_path: Path, key: bytes, values: Path, stacks: Path) -> None:
        job = {**self.job(req, report_path, key, values, stacks), "output": self.output.name}
        self.proc.pid = self.warm._start(job)
        if not self.proc.pid:
            self.proc.returncode = 70  # could not start: the verdict says the grader did not run

    def cancel(self) -> None:
        self.output.close()  # nothing was sent: no child to end


class _ForkedProcess:
    """The child running one job, seen through the warm grader: its pid, and how it ended."""

    def __init__(self, warm: WarmGrader):
        self.warm, self.pid, self.returncode = warm, 0, None

    def wait(self, timeout=None):
        if self.returncode is None:
            status = self.warm._exit_status(timeout)
            if status is None:
                raise WorkerTimeout()
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def grade(req: GradeRequest, while_running=None, worker: Optional[GraderWorker] = None, on_progress=None) -> GradeResult:
    """Grade `req.submission` on `worker` (a new one if none was started ahead).

    `while_running` is called once the job is sent, to overlap the caller's work with grading;
    `on_progress(report)`, when given, every PROGRESS_EVERY_S while the grader runs, with the
    report so far. A pass is confirmed against the sealed record of the reference's run (see seal.py).
    """
    start = time.perf_counter()
    trusted = _same_file(req.submission, req.reference)
    with tempfile.TemporaryDirectory(prefix="mentor-grade-") as tmp:
        values = Path(tmp) / "values"
        values.mkdir()
        sealed = _Preload(req)  # finds the sealed record while the grader runs
        report, returncode, timed_out, output = _run(req, Path(tmp), values, while_running, worker, start, on_progress)
        result = verdict(report, returncode, timed_out, req, output)
        result.measurements = report.measurements
        if result.passed and trusted:
            seal.keep(sealed.key(), report.collected, report.seals, values)
        elif result.passed:
            result = _confirm(req, result, report, values, sealed)
        sealed.sealed()  # never leave the thread importing while the interpreter exits
    result.duration_s = time.perf_counter() - start
    return result


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _run(req, tmp: Path, values: Path, while_running, worker, start: float, on_progress=None):
    """One grader process, start to end: its report, exit status, whether it timed out, its output."""
    worker = worker or GraderWorker()
    proc, key, timed_out = worker.proc, os.urandom(32), False
    report_path, stacks = tmp / "report.jsonl", tmp / "stacks.txt"
    with worker.output as out:
        worker.send(req, report_path, key, values, stacks)
        try:
            if while_running:
                while_running()
            timed_out = _wait(proc, start + req.timeout_s, lambda: on_progress(read_report(report_path, key)) if on_progress else None)
            if timed_out:
                _ask_for_stack(proc, stacks, report_path)
        except KeyboardInterrupt:
            _kill_tree(proc)
            result = GradeResult(
                "interrupted",
                "Stopped by Ctrl-C: the grader was stopped and nothing counts as passed.",
                tests=read_report(report_path, key).tests(),
                duration_s=time.perf_counter() - start,
            )
            raise GradingInterrupted(result) from None
        _kill_tree(proc)  # on a timeout, and anything the learner's code left running in the group
        output = _read_output(out)
    report = read_report(report_path, key)
    if timed_out:
        report.stack = _read_stack(stacks)
    return report, proc.returncode, timed_out, output


def _wait(proc: WorkerProcess, deadline: float, tick) -> bool:
    """Wait for the grader to end by `deadline` (perf_counter time); True when it did not. With a
    `tick`, wake every PROGRESS_EVERY_S to call it; the end is still seen the moment it comes."""
    while True:
        left = deadline - time.perf_counter()
        try:
            proc.wait(timeout=max(0.1 if tick is None else 0.01, left if tick is None else min(left, PROGRESS_EVERY_S)))
            return False
        except WorkerTimeout:
            if time.perf_counter() >= deadline:
                return True
            if tick is not None:
                tick()


def _ask_for_stack(proc: WorkerProcess, stacks: Path, report: Path) -> None:
    """Signal the grader to write where every thread is (see the plugin), and give it a moment to."""
    try:
        os.kill(proc.pid, STACK_SIGNAL)
    except ProcessLookupError:
        return
    until = time.perf_counter() + STACK_WAIT_S
    while time.perf_counter() < until:
        try:
            if stacks.stat().st_size:  # written in one go by a C signal handler
                break
        except OSError:
            pass
        time.sleep(0.02)
    until = min(until, time.perf_counter() + 0.3)
    while time.perf_counter() < until:  # then the output so far, once the interpreter is back in Python
        try:
            if b'"output_so_far"' in report.read_bytes():
                return
        except OSError:
            pass
        time.sleep(0.02)


def _read_stack(stacks: Path) -> str:
    try:
        return stacks.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return ""


_STACK_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in (?P<function>\S+)')


def learner_line_in_stack(stack: str, submission: Path) -> Optional[tuple[str, int]]:
    """The innermost frame in the learner's file of a stack dump: (path, line), or None.
    A thread that runs the learner's code comes first; within it, the most recent frame."""
    target = os.path.realpath(submission)
    for block in re.split(r"\n(?=\S)", stack):
        for m in map(_STACK_FRAME.match, block.splitlines()):  # most recent call first
            if m and os.path.realpath(m["file"]) == target:
                return str(submission), int(m["line"])
    return None


class _Preload:
    """The sealed record for a request, looked up on a thread so a pass is confirmed without waiting."""

    def __init__(self, req: GradeRequest):
        self._key = self._sealed = None
        self._thread = threading.Thread(target=self._load, args=(req,), daemon=True)
        self._thread.start()

    def _load(self, req: GradeRequest) -> None:
        setting = {"profile": req.profile, "threads": req.threads, "hide_cuda": req.hide_cuda}
        self._key = seal.seal_key(req.grader, req.reference, setting)
        self._sealed = seal.load(self._key)

    def key(self) -> str:
        self._thread.join()
        return self._key

    def sealed(self) -> Optional[seal.Sealed]:
        self._thread.join()
        return self._sealed


def _confirm(req: GradeRequest, result: GradeResult, report: Report, values: Path, preload: _Preload) -> GradeResult:
    """Check a pass outside the learner's process, against what the reference's run compared."""
    sealed = preload.sealed()
    if sealed is None:  # first pass on this machine: run the reference once to seal its values
        own = grade(replace(req, submission=req.reference))
        sealed = seal.load(preload.key())
        if sealed is None:
            return GradeResult(
                "error",
                f"The reference solution did not pass this grader ({own.status}: {own.message}), so your pass "
                "cannot be confirmed: a course problem, please report it.",
                result.tests, output=result.output, measurements=result.measurements,
            )  # fmt: skip
    passed = [t for t in report.collected or [] if report.results.get(t, {}).get("outcome") == "passed"]
    problems = seal.verify(sealed, report.collected or [], passed, report.seals, values)
    if not problems:
        return result
    file = req.submission.name
    for test in result.tests:
        nodeid = next((p for p in problems if _short(p) == test.name), None)
        if nodeid:
            test.outcome, test.kind, test.message = "failed", "tampered", problems[nodeid]
    return GradeResult(
        "tampered",
        f"Checked again outside your code's process, {len(problems)} test(s) that reported a pass did not "
        f"hold up: something in {file} changed the grader, the reference or NumPy while it ran. This attempt "
        "does not count; write the function itself.",
        result.tests, output=result.output, measurements=result.measurements,
    )  # fmt: skip


def _read_output(out) -> str:
    out.seek(0, os.SEEK_END)
    size = out.tell()
    out.seek(max(0, size - OUTPUT_SHOWN_BYTES))
    text = out.read().decode("utf-8", errors="replace")
    if size > OUTPUT_SHOWN_BYTES:
        text = f"[... {size - OUTPUT_SHOWN_BYTES} earlier bytes of output not shown ...]\n" + text
    return text


@dataclass
class Report:
    collected: Optional[list[str]] = None
    results: dict[str, dict] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    load_error: Optional[dict] = None
    forged: int = 0  # lines whose signature does not verify
    keyboard_interrupt: Optional[str] = None  # where the learner's code raised it, if it did
    measurements: list[dict] = field(default_factory=list)
    seals: list[dict] = field(default_factory=list)  # the values each comparison wrote (seal.py)
    docs: dict[str, str] = field(default_factory=dict)  # nodeid: what the learner reads for it
    warnings: dict[str, list[dict]] = field(default_factory=dict)  # nodeid: warnings raised while it ran
    stack: str = ""  # the grader's stack dump at a time limit
    output_so_far: dict[str, str] = field(default_factory=dict)  # nodeid: what it printed before the time limit

    def doc_of(self, nodeid: str) -> str:
        return self.docs.get(nodeid) or _short(nodeid)

    def tests(self) -> list[TestResult]:
        names = self.collected or list(self.results)
        out = []
        for nodeid in names:
            r = self.results.get(nodeid)
            if r is None:
                out.append(TestResult(name=_short(nodeid), outcome="missing", doc=self.docs.get(nodeid, ""), kind="missing", message="did not finish"))
            else:
                out.append(TestResult(**{k: v for k, v in r.items() if k in TestResult.__dataclass_fields__}))
            if nodeid in self.warnings:
                out[-1].warnings = list(self.warnings[nodeid])
        return out

    @property
    def last_started(self) -> str:
        return _short(self.started[-1]) if self.started else ""


def _short(nodeid: str) -> str:
    return nodeid.split("::")[-1]


def read_report(path: Path, key: bytes) -> Report:
    report = Report()
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return report
    for i, line in enumerate(lines):
        body, _, mac = line.rpartition("\t")
        expected = hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            if i < len(lines) - 1 or body:  # a last line cut short by a kill is not forgery
                report.forged += 1
            continue
        record = json.loads(body)
        if "collected" in record and report.collected is None:
            report.collected = list(record["collected"])
            report.docs = {k: v for k, v in (record.get("docs") or {}).items() if v}
        elif "result" in record:
            report.results[record["result"]["id"]] = record["result"]
        elif "started" in record:
            report.started.append(record["started"])
        elif "output_so_far" in record:
            report.output_so_far[record["output_so_far"]["id"]] = record["output_so_far"]["output"]
        elif "warning" in record:
            w = record["warning"]
            report.warnings.setdefault(w["id"], []).append({"message": w["message"], "where": w["where"]})
        elif "seal" in record:
            report.seals.append(record["seal"])
        elif "measurement" in record:
            report.measurements.append(record["measurement"])
        elif "keyboard_interrupt" in record:
            report.keyboard_interrupt = record["keyboard_interrupt"] or "?"
        elif "load_error" in record and report.load_error is None:
            report.load_error = record["load_error"]
    return report


def verdict(report: Report, returncode: int, timed_out: bool, req: GradeRequest, output: str) -> GradeResult:
    tests = report.tests()
    file = req.submission.name
    if timed_out:
        return _timed_out(report, tests, req, output)
    if report.forged:
        return GradeResult(
            "tampered",
            f"The grader's report holds {report.forged} line(s) it did not write: something in {file} "
            "wrote to it. This attempt does not count; only the grader may report results.",
            tests, output=output,
        )  # fmt: skip
    if report.load_error:
        err = report.load_error
        return GradeResult("error", f"{file}: {err['message']}", tests, output=output, where=err["where"], line=err["line"],
                           column=err.get("column", 0), end_column=err.get("end_column", 0))  # fmt: skip
    if report.collected is None:
        return GradeResult(
            "error",
            f"The grader for this step could not start (exit code {returncode}); this is a course problem, "
            "not yours: please report it with the output below.",
            tests, output=output,
        )  # fmt: skip
    if not report.collected:
        return GradeResult("error", "The grader collected no tests: a course problem, please report it.", tests, output=output)
    if any(t.kind == "memory" for t in tests) or (returncode == -signal.SIGKILL and _mentions_memory(output)):
        return GradeResult(
            "memory",
            f"Your code in {file} ran out of memory under the step's {req.memory_mb} MB limit: look for a "
            "tensor far larger than the task needs (an accidental broadcast to (N, N), a copy per step).",
            tests, output=output,
        )  # fmt: skip
    if returncode == -signal.SIGXFSZ or any(t.kind == "output" for t in tests):
        return GradeResult(
            "crashed",
            f"Your code in {file} wrote more than {OUTPUT_CAP_BYTES >> 20} MB of output; the grader was stopped.",
            tests, output=output,
        )  # fmt: skip
    missing = [t for t in tests if t.outcome == "missing"]
    if report.keyboard_interrupt is not None:
        at = f" at {report.keyboard_interrupt}" if report.keyboard_interrupt != "?" else ""
        running = f" during test {report.last_started}" if report.last_started else ""
        return GradeResult(
            "crashed",
            f"Your code raised KeyboardInterrupt{at}{running}; the grader stops there and nothing counts as passed.",
            tests, output=output,
        )  # fmt: skip
    if missing:
        how = f"killed by signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with status {returncode}"
        return GradeResult(
            "crashed",
            f"The grader process {how} during test {missing[0].name}, before every test had run: "
            "something in your code ended the interpreter (os._exit, a crash in native code, ...).",
            tests, output=output,
        )  # fmt: skip
    if all(t.outcome == "passed" for t in tests):
        return GradeResult("passed", STATUS_MESSAGES["passed"], tests, output=output)
    if all(t.kind == "not_implemented" for t in tests):
        return GradeResult("not_started", STATUS_MESSAGES["not_started"], tests, output=output)
    failed = sum(t.outcome != "passed" for t in tests)
    return GradeResult("failed", f"{failed} of {len(tests)} tests failed.", tests, output=output)


def _timed_out(report: Report, tests: list[TestResult], req: GradeRequest, output: str) -> GradeResult:
    """A time limit: the test that was running, and the learner's line it was on (from the stack dump)."""
    running = report.started[-1] if report.started else ""
    at = learner_line_in_stack(report.stack, req.submission)
    where, line = (f"{at[0]}:{at[1]}", _source_line(at[0], at[1])) if at else ("", "")
    for t in tests:
        if running and t.name == _short(running) and t.outcome == "missing":
            t.outcome, t.kind, t.message, t.where, t.line = "failed", "timeout", "still running at the time limit", where, line
            t.output = report.output_so_far.get(running, "")
        elif t.outcome == "missing":
            t.message = "not run: the time limit came first"
    during = f" while checking “{report.doc_of(running)}” ({_short(running)})" if running else ""
    return GradeResult(
        "timeout",
        f"Your code in {req.submission.name} ran longer than the {req.timeout_s:g}s limit{during}: look for a loop "
        "that never ends or work that grows much faster than the input.",
        tests, output=output, where=where, line=line,
    )  # fmt: skip


def _source_line(path: str, number: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, text in enumerate(f, 1):
                if n == number:
                    return text.strip()
    except OSError:
        pass
    return ""


def _mentions_memory(output: str) -> bool:
    return "MemoryError" in output or "Cannot allocate memory" in output
