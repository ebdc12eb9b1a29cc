"""A grader process started before its job is known.

`mentor check` starts this first thing, so the interpreter and pytest load while the CLI works out
which step to grade. The job then arrives as one JSON line on stdin: the environment to add (paths,
thread counts, the report key: set here, so none of it shows in /proc/<pid>/environ), the memory
cap, the working folder and pytest's arguments. Settings that must precede NumPy or torch (threads,
CUDA visibility) are applied before pytest imports any grader.
"""

import json
import os
import resource
import sys

import pytest  # the slow import, done while the CLI is still busy


def main() -> int:
    line = sys.stdin.readline()
    if not line:
        return 0  # the CLI decided not to grade after all
    return run_job(json.loads(line))


def run_job(job: dict) -> int:
    """Grade `job` in this process: no stdin, its environment, its limits, its folder, then pytest.
    Also what each child of the warm grader (zygote.py) runs."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the learner's code gets no stdin, and no way back to the job
    os.close(devnull)
    os.environ.update(job["env"])
    threads = job["env"].get("OMP_NUM_THREADS")
    torch = sys.modules.get("torch")
    if threads and torch is not None:  # imported before the job (the warm grader): the variable came too late
        torch.set_num_threads(int(threads))
    mem = job["memory_mb"] << 20
    # RLIMIT_DATA counts heap and anonymous mappings (what NumPy allocates) but not the address
    # space reserved by shared libraries, so torch imports under a tight cap.
    resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (job["output_cap"], job["output_cap"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir(job["cwd"])
    return int(pytest.main(job["args"]))


if __name__ == "__main__":
    code = main()
    # The report is complete and every file the grader wrote is closed: leave without tearing down the
    # interpreter (tens of milliseconds with NumPy loaded), and without running the learner's atexit hooks.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
