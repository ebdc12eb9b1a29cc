"""The grader runs learner code in a separate, limited process; every way it can go wrong has its own verdict."""

import time
from pathlib import Path

import pytest

from mentor.grading.runner import GradeRequest, grade
from mentor.paths import content_root

GRADER = "phase1/test_neuron.py"
REFERENCE = content_root() / "solutions" / "phase1" / "neuron.py"
SOLUTION = REFERENCE.read_text()


def run(tmp_path: Path, source: str, **limits):
    sub = tmp_path / "neuron.py"
    sub.write_text(source)
    return grade(GradeRequest(GRADER, sub, REFERENCE, tmp_path, **limits))


def test_reference_passes_with_every_test_reported(tmp_path):
    result = run(tmp_path, SOLUTION)
    assert result.status == "passed" and len(result.tests) == 5
    assert all(t.outcome == "passed" for t in result.tests)


def test_misconception_message_and_value_diff_reach_the_learner(tmp_path):
    result = run(tmp_path, SOLUTION.replace("x @ w + b", "x @ w"))
    failing = {t.name: t for t in result.tests if t.outcome != "passed"}
    assert result.status == "failed" and "test_bias_added_once" in failing
    bias = failing["test_bias_added_once"]
    assert "bias is missing" in bias.message and "largest difference" in bias.diff
    assert "expect_close" not in bias.message + bias.diff  # never the grader's source


def test_exception_in_learner_code_points_at_their_line(tmp_path):
    result = run(tmp_path, SOLUTION.replace("z = x @ w + b", "z = x @ w.reshape(1, -1) + b"))
    t = next(t for t in result.tests if t.kind == "exception")
    assert "ValueError" in t.message and t.where.endswith("neuron.py:7") and "reshape" in t.line


def test_syntax_error_is_one_clear_message_with_the_line(tmp_path):
    result = run(tmp_path, SOLUTION.replace("def neuron_forward(", "def neuron_forward(("))
    assert result.status == "error" and "cannot parse" in result.message
    assert result.where.endswith("neuron.py:6")


def test_exception_at_import_is_reported_as_such(tmp_path):
    result = run(tmp_path, "import numpy_typo_module\n" + SOLUTION)
    assert result.status == "error" and "ModuleNotFoundError" in result.message and result.where.endswith(":1")


def test_exit_at_import_is_not_a_pass(tmp_path):
    result = run(tmp_path, "import sys\nsys.exit(0)\n")
    assert result.status == "error" and "SystemExit" in result.message


def test_infinite_loop_times_out_and_the_whole_process_tree_dies(tmp_path):
    pidfile = tmp_path / "child.pid"
    source = SOLUTION + f"""
import subprocess
_child = subprocess.Popen(["sleep", "600"])
open({str(pidfile)!r}, "w").write(str(_child.pid))

def neuron_forward(x, w, b, activation=None):
    while True:
        pass
"""
    start = time.monotonic()
    result = run(tmp_path, source, timeout_s=4)
    assert result.status == "timeout" and "4s limit" in result.message and "test_output_shape" in result.message
    assert time.monotonic() - start < 15
    time.sleep(0.2)
    assert not running(int(pidfile.read_text()))


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_memory_cap_stops_a_huge_allocation(tmp_path):
    source = SOLUTION + """
def neuron_forward(x, w, b, activation=None):
    big = np.ones((1 << 30,))  # 8 GiB
    return x @ w + b
"""
    result = run(tmp_path, source, memory_mb=600)
    assert result.status == "memory" and "600 MB" in result.message


def test_leaving_the_interpreter_mid_test_is_a_crash_not_a_pass(tmp_path):
    source = SOLUTION + """
import os
def neuron_forward(x, w, b, activation=None):
    os._exit(0)
"""
    result = run(tmp_path, source)
    assert result.status == "crashed" and "before every test had run" in result.message
    assert any(t.outcome == "missing" for t in result.tests)


def test_segfault_is_named(tmp_path):
    source = SOLUTION + """
import ctypes
def neuron_forward(x, w, b, activation=None):
    return ctypes.string_at(0)
"""
    result = run(tmp_path, source)
    assert result.status == "crashed" and "SIGSEGV" in result.message


def test_skipping_tests_from_learner_code_does_not_pass(tmp_path):
    source = SOLUTION + """
import pytest
def neuron_forward(x, w, b, activation=None):
    pytest.skip("nothing to see")
"""
    result = run(tmp_path, source)
    assert result.status == "failed" and all(t.outcome == "skipped" for t in result.tests)


def test_runaway_output_is_capped(tmp_path):
    source = SOLUTION + """
import sys
def neuron_forward(x, w, b, activation=None):
    while True:
        sys.__stdout__.write("spam " * 20000)
"""
    result = run(tmp_path, source, timeout_s=30)
    assert result.status == "crashed" and "MB of output" in result.message
    assert len(result.output) < 10_000


def test_patching_numpy_comparisons_does_not_fool_the_grader(tmp_path):
    source = SOLUTION.replace("x @ w + b", "x @ w") + """
np.allclose = lambda *a, **k: True
np.isfinite = lambda a: np.ones_like(a, dtype=bool)
"""
    result = run(tmp_path, source)
    assert result.status == "failed" and any("bias is missing" in t.message for t in result.tests)


def test_an_empty_file_says_which_function_is_missing(tmp_path):
    result = run(tmp_path, "")
    assert result.status == "failed"
    assert all("does not define `neuron_forward`" in t.message for t in result.tests)


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary\xff", "x = 'caf\u00e9'\n".encode("latin-1")], ids=["binary", "latin-1"])
def test_binary_or_non_utf8_files_are_a_clear_load_error(tmp_path, content):
    sub = tmp_path / "neuron.py"
    sub.write_bytes(content)
    result = grade(GradeRequest(GRADER, sub, REFERENCE, tmp_path))
    assert result.status == "error" and "cannot parse" in result.message


def test_forged_report_lines_are_detected_and_do_not_pass(tmp_path):
    source = SOLUTION.replace("x @ w + b", "x @ w") + """
import gc, json
def _forge():
    for obj in gc.get_objects():
        if type(obj).__name__ == "_Report" and getattr(obj, "_file", None):
            for name in ("test_output_shape", "test_weighted_sum", "test_bias_added_once",
                         "test_activation_applied_after_sum", "test_single_example"):
                rec = {"result": {"id": f"phase1/test_neuron.py::{name}", "name": name, "outcome": "passed"}}
                obj._file.write(json.dumps(rec) + "\\tdeadbeef\\n")
            obj._file.flush()
_forge()
"""
    result = run(tmp_path, source)
    assert result.status == "tampered" and "did not write" in result.message


def test_the_learner_process_sees_no_grader_paths_in_its_environment(tmp_path):
    source = SOLUTION + """
import os
assert not [k for k in os.environ if k.startswith("MENTOR_")], sorted(os.environ)
"""
    assert run(tmp_path, source).status == "passed"


def test_keyboard_interrupt_raised_by_learner_code_is_named(tmp_path):
    source = SOLUTION + """
def neuron_forward(x, w, b, activation=None):
    raise KeyboardInterrupt
"""
    result = run(tmp_path, source)
    assert result.status == "crashed" and "KeyboardInterrupt at" in result.message and "neuron.py:" in result.message


def test_without_pidfds_the_wait_still_ends_on_time_and_reads_the_status(tmp_path, monkeypatch):
    """Kernels before 5.3 (and other systems) have no pidfd: the worker is then polled instead."""

    def no_pidfd(pid):
        raise OSError("pidfd_open is not available")

    monkeypatch.setattr("os.pidfd_open", no_pidfd)
    assert run(tmp_path, SOLUTION).status == "passed"
    source = SOLUTION + "\ndef neuron_forward(x, w, b, activation=None):\n    while True:\n        pass\n"
    assert run(tmp_path, source, timeout_s=2).status == "timeout"
    crash = SOLUTION + "\nimport os\ndef neuron_forward(x, w, b, activation=None):\n    os._exit(3)\n"
    result = run(tmp_path, crash)
    assert result.status == "crashed" and "exited with status 3" in result.message


def test_a_grader_started_with_stdin_stdout_and_stderr_closed_still_reports(tmp_path):
    """The worker's pipe and output file must not land on fds 0-2 and be overwritten while wiring it."""
    import subprocess
    import sys

    code = (
        "import os\nfor fd in (0, 1, 2): os.close(fd)\n"
        "from pathlib import Path\nfrom mentor.grading.runner import GradeRequest, grade\n"
        f"r = grade(GradeRequest({GRADER!r}, Path({str(REFERENCE)!r}), Path({str(REFERENCE)!r}), Path({str(tmp_path)!r})))\n"
        f"open({str(tmp_path / 'status')!r}, 'w').write(r.status + ' ' + r.output)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    status, output = (tmp_path / "status").read_text().split(" ", 1)
    assert status == "passed" and " passed" in output  # pytest's own summary reached the output file


def test_generated_inputs_do_not_depend_on_the_numbers_in_the_learners_file(tmp_path):
    """Hypothesis also draws from literals of the modules loaded: the grader must keep the learner's out."""
    import json

    from mentor.paths import GRADERS_DIR

    probe = GRADERS_DIR / "_probe_hypothesis" / "test_hypothesis_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text(
        "import json\nfrom hypothesis import given, settings, strategies as st\n\n"
        "def test_draws(submission):\n"
        "    seen = []\n\n"
        "    @settings(max_examples=300, derandomize=True, database=None)\n"
        "    @given(st.integers(0, 10**6))\n"
        "    def draw(n):\n"
        "        seen.append(n)\n\n"
        "    draw()\n"
        "    open(submission.OUT, 'w').write(json.dumps(seen))\n"
    )
    try:
        draws = []
        for i, literals in enumerate(("K = 48611", "K, L, M = 777777, 31337, 9001")):
            sub = tmp_path / f"probe{i}.py"
            sub.write_text(f"OUT = {str(tmp_path / f'draws{i}.json')!r}\n{literals}\n")
            result = grade(GradeRequest("_probe_hypothesis/test_hypothesis_probe.py", sub, sub, tmp_path))
            assert result.status == "passed", result.message
            draws.append(json.loads((tmp_path / f"draws{i}.json").read_text()))
    finally:
        probe.unlink()
        probe.parent.rmdir()
    assert len(draws[0]) == 300 and draws[0] == draws[1]
    assert not {48611, 777777, 31337, 9001} & set(draws[0])
