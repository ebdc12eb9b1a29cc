"""A plain wheel install carries the course: `mentor init` makes a workspace that grades from the package."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project built as a wheel and unpacked into a folder of its own (dependencies from this env)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next(out.glob("mentor-*.whl"))
    target = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target


def run(site: Path, *args, cwd: Path):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_wheel_ships_curriculum_stubs_solutions_and_graders(installed):
    pkg = installed / "mentor"
    assert (pkg / "_content" / "curriculum" / "course.yaml").is_file()
    assert (pkg / "_content" / "exercises" / "phase1" / "neuron.py").is_file()
    assert (pkg / "_content" / "solutions" / "phase1" / "neuron.py").is_file()
    assert (pkg / "graders" / "phase1" / "test_neuron.py").is_file()


def test_init_and_check_from_the_installed_package(installed, tmp_path):
    assert run(installed, "init", "ws", cwd=tmp_path).returncode == 0
    ws = tmp_path / "ws"
    assert "neuron" in run(installed, "next", cwd=ws).stdout
    result = run(installed, "check", "--json", cwd=ws)
    data = json.loads(result.stdout)
    assert result.returncode == 1 and data["status"] == "not_started"
    # reset restores from the package, not from git
    (ws / "exercises" / "phase1" / "neuron.py").write_text("# mine\n")
    assert run(installed, "reset", "p1.neuron.forward", "--yes", cwd=ws).returncode == 0
    assert "NotImplementedError" in (ws / "exercises" / "phase1" / "neuron.py").read_text()
