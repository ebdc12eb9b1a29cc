import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mentor.curriculum import load_course
from mentor.paths import content_root

# Sealed grader records (mentor/grading/seal.py) go to a cache of this run's own, shared by the
# subprocesses it starts, never to the developer's ~/.cache.
os.environ["MENTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="mentor-test-cache-")
atexit.register(shutil.rmtree, os.environ["MENTOR_CACHE_DIR"], True)


@pytest.fixture(autouse=True)
def no_workspace_of_the_learner(monkeypatch):
    """Tests never find the learner's own workspace: each one that needs a workspace makes its own."""
    monkeypatch.delenv("MENTOR_WORKSPACE", raising=False)


@pytest.fixture(autouse=True)
def no_tutor_endpoint_from_the_environment(monkeypatch):
    """Tests never reach a real LLM endpoint configured on the developer's machine."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MENTOR_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def course():
    return load_course(content_root())


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    """A fresh workspace made by `mentor init`, as the current folder."""
    from typer.testing import CliRunner

    from mentor.cli import app

    root = tmp_path / "ws"
    assert CliRunner().invoke(app, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    monkeypatch.delenv("MENTOR_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside the lines we look for
    return root


_EXIT_PROBE = """
import os, runpy, sys
real_exit = os._exit
def report(code):  # the entry point leaves through os._exit: list what was loaded at that moment
    os.write(2, ("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n").encode())
    real_exit(code)
os._exit = report
sys.argv = ["mentor", *sys.argv[1:]]
runpy.run_module("mentor", run_name="__main__")
"""


@pytest.fixture
def modules_at_exit():
    """`modules_at_exit(cwd, *args)`: the modules `python -m mentor ARGS` had loaded when it left."""
    import subprocess
    import sys

    def run(cwd: Path, *args: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-c", _EXIT_PROBE, *args], cwd=cwd, capture_output=True, text=True)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
        assert len(lines) == 1, f"`mentor {' '.join(args)}` did not leave through its entry point:\n{proc.stderr}"
        return set(lines[0].split()[1:])

    return run
