"""Starting a grader worker process with nothing but `os`, which every Python has loaded already.

`mentor check` calls this before it imports the rest of mentor (see mentor/entry.py), so that Python
and pytest load in the worker while the CLI starts up and works out what to grade. Importing
`subprocess` and `tempfile` first would hold the start back by about 20 ms, the time of a grader
test or two.
"""

import os
import sys

# Only our plugin loads: third-party pytest plugins in the learner's environment neither slow the
# grader (hypothesis's alone costs about a second at start-up) nor change how it runs.
GRADER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


class WorkerTimeout(Exception):
    """The worker was still running when the wait ran out."""


class WorkerProcess:
    """A started worker: its pid, the pipe its job goes down, and how it ended."""

    def __init__(self, pid: int, stdin, args: list[str]):
        self.pid, self.stdin, self.args = pid, stdin, args
        self.returncode = None  # as subprocess reports it: -N when signal N ended it

    def wait(self, timeout=None):
        """Wait for the end, waking the moment it comes (`Popen.wait` with a timeout polls, 50 ms late)."""
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(self._status(timeout))
        return self.returncode

    def _status(self, timeout) -> int:
        if timeout is not None:
            try:
                fd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):  # not Linux, or a kernel before 5.3: poll
                return self._poll(timeout)
            import select

            try:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                if not poller.poll(timeout * 1000):
                    raise WorkerTimeout()
            finally:
                os.close(fd)
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:  # reaped elsewhere: its status is gone
            return 0

    def _poll(self, timeout: float) -> int:
        import time

        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            if time.monotonic() > deadline:
                raise WorkerTimeout()
            time.sleep(0.005)


def worker_env() -> dict:
    env = dict(os.environ, **GRADER_ENV)
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",
    )
    for name in list(env):  # mentor's own settings (its cache, say) are none of the learner code's business
        if name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS") or name.startswith("MENTOR_"):
            del env[name]
    return env


def _output_fd() -> int:
    """An unnamed file for the worker's output: nothing to clean up, whatever happens to us."""
    try:
        return os.open(os.environ.get("TMPDIR") or "/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)
    except (AttributeError, OSError):  # not Linux, or a file system without unnamed files
        import tempfile

        with tempfile.TemporaryFile() as named:  # already unlinked
            return os.dup(named.fileno())


def _above_std(fd: int) -> int:
    """`fd`, moved above 0-2 if it landed there (the CLI was started with stdin closed, say), so that
    wiring the worker's stdin, stdout and stderr never overwrites it."""
    if fd > 2:
        return fd
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return high


def spawn_worker():
    """A new worker process waiting for its job on stdin, and the file its output goes to."""
    output = open(_above_std(_output_fd()), "w+b")
    args = [sys.executable, "-m", "mentor.grading.worker"]
    job_in, job_out = map(_above_std, os.pipe())
    try:
        pid = os.posix_spawn(
            sys.executable, args, worker_env(),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, job_in, 0),
                (os.POSIX_SPAWN_DUP2, output.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, output.fileno(), 2),
            ],
            setsid=True,  # its own session and process group: a timeout kills the whole tree
        )  # fmt: skip
    except BaseException:
        os.close(job_out)
        raise
    finally:
        os.close(job_in)
    return WorkerProcess(pid, open(job_out, "wb"), args), output
