"""The warm grader: a process that imports the heavy libraries once and forks a fresh child per check.

`mentor watch` grades again on every save. A cold check starts Python and imports pytest, NumPy and
torch (a second and more) before its first test; this process pays for the imports once, and each
job forks a child that is a copy of it as it was before any learner code ran. The learner's module is
imported in the child only, and the child sets every limit a cold worker sets (its own session, no
stdin, the job's environment, memory and file-size caps, the working folder: worker.run_job), so
nothing of one check survives into the next.

Nothing here may start a thread pool or touch CUDA before the fork: a child does not inherit threads,
and CUDA cannot be used again in a forked child. Importing torch does neither; its first operation
would, and that happens in the child.

Protocol, one line each way per job. The runner writes the job as for worker.py, with `output`: the
file the child's stdout and stderr go to. This process answers `pid N` once the child runs, and
`exit S` (its raw wait status) when it has ended.
"""

import json
import os
import sys

import pytest  # noqa: F401  (the slow imports, done once)

from mentor.grading.worker import run_job

PRELOADED = ("numpy", "torch", "hypothesis")  # what graders import; each is skipped where not installed


def preload() -> None:
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass
    import mentor.grading.plugin  # noqa: F401  (pytest finds it loaded: `-p mentor.grading.plugin`)


def _child(job: dict, answers) -> int:
    answers.close()  # the learner's code gets no way to write to the runner's pipe
    os.setsid()  # its own session and process group, as a cold worker: a timeout kills the whole tree
    out = os.open(job["output"], os.O_WRONLY | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    return run_job(job)


def serve(jobs, answers) -> None:
    for line in jobs:
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 70  # EX_SOFTWARE: the job could not even start
            try:
                code = _child(job, answers)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        answers.write(f"pid {pid}\n".encode())
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(f"exit {status}\n".encode())
        answers.flush()


def main() -> int:
    answers = os.fdopen(os.dup(1), "wb", buffering=0)  # the runner's pipe; the children's fd 1 goes elsewhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing an import prints can garble the protocol
    os.close(devnull)
    preload()
    answers.write(b"ready\n")
    serve(sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    code = main()
    os._exit(code)
