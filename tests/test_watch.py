"""`mentor watch`: the warm grader gives the verdicts of a cold one with every isolation kept, saves and
keys are seen, and the command grades again on a save and records it. Real processes throughout."""

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mentor.grading.runner import ForkedWorker, GraderWorker, GradeRequest, WarmGrader, grade
from mentor.paths import GRADERS_DIR, content_root
from mentor.watch import Keys, saves

GRADER = "phase1/test_neuron.py"
REFERENCE = content_root() / "solutions" / "phase1" / "neuron.py"
SOLUTION = REFERENCE.read_text()
STUB = (content_root() / "exercises" / "phase1" / "neuron.py").read_text()
EXERCISE = "exercises/phase1/neuron.py"


@pytest.fixture(scope="module")
def warm():
    grader = WarmGrader()
    assert grader.wait_ready(120), "the warm grader did not finish its imports"
    yield grader
    grader.close()


def graded(tmp_path: Path, source: str, worker, name: str = "neuron.py", grader: str = GRADER, own_reference=False, **limits):
    sub = tmp_path / name
    sub.write_text(source)
    return grade(GradeRequest(grader, sub, sub if own_reference else REFERENCE, tmp_path, **limits), worker=worker)


def test_the_warm_grader_forks_a_worker_per_check(warm, tmp_path):
    worker = warm.worker()
    assert isinstance(worker, ForkedWorker)
    result = graded(tmp_path, SOLUTION, worker)
    assert result.status == "passed", result.message
    assert worker.proc.pid not in (0, os.getpid(), warm._proc.pid)


@pytest.mark.parametrize(
    "source, status, needle",
    [
        (STUB, "not_started", ""),
        (SOLUTION.replace("z = x @ w + b", "z = x @ w"), "failed", "bias"),
        (SOLUTION + "\nimport os\ndef neuron_forward(x, w, b, activation=None):\n    os._exit(3)\n", "crashed", ""),
        (SOLUTION + "\ndef neuron_forward(x, w, b, activation=None):\n    print('tracing forward')\n    return (x @ w) * 0\n", "failed", ""),
    ],
    ids=["stub", "wrong", "crash", "prints"],
)
def test_a_warm_verdict_is_the_cold_verdict(warm, tmp_path, source, status, needle):
    cold_dir, warm_dir = tmp_path / "cold", tmp_path / "warm"
    cold_dir.mkdir(), warm_dir.mkdir()
    cold, hot = graded(cold_dir, source, GraderWorker()), graded(warm_dir, source, warm.worker())
    assert hot.status == cold.status == status, (hot.message, cold.message)
    assert [(t.name, t.outcome, t.kind) for t in hot.tests] == [(t.name, t.outcome, t.kind) for t in cold.tests]
    if needle:
        assert any(needle in t.message for t in hot.tests if t.outcome == "failed")
    if "print(" in source:
        assert any("tracing forward" in t.output for t in hot.tests)


def test_a_hung_check_times_out_and_names_the_learners_line(warm, tmp_path):
    hung = SOLUTION + "\ndef neuron_forward(x, w, b, activation=None):\n    while True:\n        pass\n"
    start = time.monotonic()
    result = graded(tmp_path, hung, warm.worker(), timeout_s=4)
    assert result.status == "timeout" and time.monotonic() - start < 15
    assert result.where.endswith(f"neuron.py:{hung.splitlines().index('        pass') + 1}") or "while True" in result.line
    assert graded(tmp_path, SOLUTION, warm.worker()).status == "passed"  # the warm grader lives on


def test_nothing_a_learners_module_does_survives_into_the_next_check(warm, tmp_path):
    """The module marks NumPy, which the warm grader imported before forking: a later check must not see it."""
    marking = SOLUTION + (
        "\nimport numpy as _np\n"
        "if getattr(_np, '_seen_by_an_earlier_check', False):\n"
        "    raise RuntimeError('state from an earlier check')\n"
        "_np._seen_by_an_earlier_check = True\n"
    )
    for _ in range(3):
        result = graded(tmp_path, marking, warm.worker())
        assert result.status == "passed", result.message
    import numpy

    assert not hasattr(numpy, "_seen_by_an_earlier_check")


def test_limits_reach_the_forked_child(warm, tmp_path):
    probe = GRADERS_DIR / "_probe_warm" / "test_warm_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text(
        "import os, resource, torch\nfrom mentor.grading.expect import expect\n\n"
        "def test_limits(submission):\n"
        "    seen = (torch.get_num_threads(), os.environ.get('CUDA_VISIBLE_DEVICES'), os.getsid(0) == os.getpid(),\n"
        "            resource.getrlimit(resource.RLIMIT_DATA)[0] >> 20, os.getcwd())\n"
        "    expect(seen == submission.WANT, 'limits not applied', str(seen))\n"
    )
    try:
        want = (1, "", True, 1500, str(tmp_path))
        result = graded(
            tmp_path, f"WANT = {want!r}\n", warm.worker(), name="probe.py", grader="_probe_warm/test_warm_probe.py",
            own_reference=True, threads=1, hide_cuda=True, memory_mb=1500,
        )  # fmt: skip
        assert result.status == "passed", (result.message, result.output, [t.diff for t in result.tests])
    finally:
        probe.unlink()
        probe.parent.rmdir()


def test_without_a_warm_grader_a_check_runs_cold(tmp_path):
    gone = WarmGrader()
    gone.close()
    worker = gone.worker()
    assert type(worker) is GraderWorker
    assert graded(tmp_path, SOLUTION, worker).status == "passed"


def test_a_warm_grader_that_dies_mid_check_gives_no_pass(tmp_path):
    dying = WarmGrader()
    try:
        assert dying.wait_ready(120)
        worker = dying.worker()
        killer = threading.Timer(1.0, lambda: os.kill(dying._proc.pid, 9))
        killer.start()
        slow = SOLUTION + "\nimport time\ndef neuron_forward(x, w, b, activation=None):\n    time.sleep(30)\n"
        result = graded(tmp_path, slow, worker, timeout_s=20)
        killer.join()
        assert result.status != "passed"
        assert type(dying.worker()) is GraderWorker
    finally:
        dying.close()


# -- saves and keys -------------------------------------------------------------------------------
def _first(events, within: float):
    """The first True `saves` yields within `within` seconds, else False."""
    deadline = time.monotonic() + within
    for saved in events:
        if saved:
            return True
        if time.monotonic() > deadline:
            return False
    return False


def test_saves_sees_a_write_and_a_rename_over_the_file_but_not_its_neighbours(tmp_path):
    target, neighbour = tmp_path / "neuron.py", tmp_path / "other.py"
    target.write_text("a = 1\n")
    stop = threading.Event()
    try:
        events = saves(target, stop, debounce_ms=100)
        next(events)  # watching now
        neighbour.write_text("b = 2\n")
        assert not _first(events, 1.0)
        target.write_text("a = 2\n")
        assert _first(events, 5.0)
        (tmp_path / ".neuron.py.swp").write_text("a = 3\n")
        os.replace(tmp_path / ".neuron.py.swp", target)  # how vim and most IDEs save
        assert _first(events, 5.0)
    finally:
        stop.set()


def test_keys_come_one_at_a_time_from_a_pipe_and_an_ended_stdin_quits():
    read, write = os.pipe()
    with os.fdopen(read, "rb", buffering=0) as stream, Keys(stream) as keys:
        assert keys.poll() is None
        os.write(write, b"hq")
        assert [keys.poll(), keys.poll(), keys.poll()] == ["h", "q", None]
        os.close(write)
        assert keys.poll() == "q"


# -- the command ----------------------------------------------------------------------------------
class Watch:
    def __init__(self, ws: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mentor", "watch"], cwd=ws, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, bufsize=0,
        )  # fmt: skip
        self.seen = b""

    def until(self, text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self.proc.stdout], [], [], left)[0], self.seen.decode()[-2000:]
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            assert chunk, self.seen.decode()[-2000:]
            self.seen += chunk
        out, self.seen = self.seen.decode(), b""
        return out

    def press(self, key: str) -> None:
        self.proc.stdin.write(key.encode())
        self.proc.stdin.flush()


def test_watch_grades_again_on_a_save_records_it_and_quits_on_q(tmp_path):
    ws = tmp_path / "ws"
    subprocess.run([sys.executable, "-m", "mentor", "init", str(ws)], check=True, capture_output=True)
    watch = Watch(ws)
    try:
        first = watch.until("Watching ")
        assert "not started" in first
        (ws / EXERCISE).write_text(SOLUTION)
        second = watch.until("Watching ")
        assert "passed" in second and "All tests passed" in second
        watch.press("h")
        assert "Hint 1/" in watch.until("Hint 1/", timeout=30)
        watch.press("q")
        assert watch.proc.wait(30) == 0
    finally:
        watch.proc.kill()
    def run(*args):
        done = subprocess.run([sys.executable, "-m", "mentor", *args, "--json"], cwd=ws, capture_output=True, text=True)
        return json.loads(done.stdout)

    step = run("list")["steps"][0]
    assert step["attempts"] == 2 and step["state"] == "passed", step
    assert run("next")["hints"]["seen"] == 1
