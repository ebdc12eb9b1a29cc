"""Starting a grader worker process, with nothing heavier than subprocess imported.

`mentor check` calls this before it imports the rest of mentor (see mentor/entry.py), so that
Python and pytest load in the worker while the CLI starts up and works out what to grade.
"""

import os
import subprocess
import sys
import tempfile

# Only our plugin loads: third-party pytest plugins in the learner's environment neither slow the
# grader (hypothesis's alone costs about a second at start-up) nor change how it runs.
GRADER_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def spawn_worker():
    """A new worker process waiting for its job on stdin, and the file its output goes to."""
    env = dict(os.environ, **GRADER_ENV)
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",
        # A fixed mmap threshold makes glibc return large blocks to the OS on free, so the peak
        # resident set that memory budgets read is not hidden by memory cached from earlier calls.
        MALLOC_MMAP_THRESHOLD_="131072",
    )
    for name in list(env):  # mentor's own settings (its cache, say) are none of the learner code's business
        if name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS") or name.startswith("MENTOR_"):
            del env[name]
    output = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mentor.grading.worker"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout kills the whole tree
    )
    return proc, output
