"""Hardware profiles: graded for this machine, or for another with --target or the workspace setting;
budget figures are recorded with the profile and shown in progress."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from answering import answer_args
from mentor.cli import app
from mentor.hardware import Machine, choose_profile, resolve_target
from mentor.paths import content_root

runner = CliRunner()
FIRST = "p1.neuron.forward"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "200")
    return root


def big_allocation(ws, mb: int) -> None:
    """A neuron that reserves `mb` MB (untouched, so instant) before answering correctly."""
    source = (content_root() / "solutions/phase1/neuron.py").read_text()
    (ws / "exercises/phase1/neuron.py").write_text(source.replace("    z = x @ w + b", f"    _ = np.empty({mb} << 20, dtype=np.uint8)\n    z = x @ w + b"))


def check_json(*args):
    result = runner.invoke(app, ["check", FIRST, "--json", *args])
    return result.exit_code, json.loads(result.output)


def test_profiles_follow_the_machine(course):
    cpu = Machine("cpu", 8, 8.0, "2.13", 8, None, None)
    assert choose_profile(course.profiles, cpu)[0] == "cpu-8gb"
    big = Machine("cpu", 16, 64.0, "2.13", 16, "NVIDIA GeForce RTX 4090", 16.0)
    name, why = choose_profile(course.profiles, big)
    assert name == "gpu-16gb" and "RTX 4090" in why
    small = Machine("cpu", 8, 16.0, "2.13", 8, "GTX 1050", 4.0)
    assert choose_profile(course.profiles, small)[0] == "cpu-8gb"


def test_a_cpu_profile_hides_cuda_and_pins_threads(course):
    t = resolve_target(course.profiles, "cpu-8gb", None)
    assert (t.profile, t.hide_cuda, t.threads) == ("cpu-8gb", True, course.profiles["cpu-8gb"].threads)
    assert "--target" in t.why


def test_target_applies_the_smaller_machines_memory_cap(ws, course):
    cap = course.profiles["cpu-8gb"].grader_memory_mb
    big_allocation(ws, cap + 200)  # fits the gpu-16gb grader, not the cpu-8gb one
    code, data = check_json("--target", "gpu-16gb")
    assert code == 0 and data["profile"] == "gpu-16gb"
    code, data = check_json("--target", "cpu-8gb")
    assert code == 1 and data["status"] == "memory" and f"{cap} MB" in data["message"]


def test_workspace_setting_chooses_the_target(ws):
    toml = ws / "mentor.toml"
    toml.write_text(toml.read_text().replace('# target = "cpu-8gb"', 'target = "gpu-16gb"'))
    assert check_json()[1]["profile"] == "gpu-16gb"


def test_unknown_target_is_a_usage_error(ws):
    result = runner.invoke(app, ["check", FIRST, "--target", "tpu-pod"])
    assert result.exit_code == 2 and "unknown profile" in result.output


def test_budget_figures_are_recorded_with_the_profile_and_shown_in_progress(ws, course):
    solve_all_before = [s for s in course.steps][:2]
    for step in solve_all_before:
        shutil.copy(content_root() / step.solution, ws / step.exercise)
    first = course.steps[0]
    runner.invoke(app, ["check", first.id, *answer_args(ws, first)])
    result = runner.invoke(app, ["check", "p1.activations.forward", "--json", "--target", "cpu-8gb"])
    data = json.loads(result.output)
    assert data["passed"], data["message"]
    latency = [m for m in data["measurements"] if m["budget"] == "latency_ratio"]
    assert latency and latency[0]["allowed"] == 4.0 and latency[0]["profile"] == "cpu-8gb"
    stored = json.loads(runner.invoke(app, ["progress", "--json"]).output)["measurements"]
    assert [(m["step_id"], m["budget"], m["profile"]) for m in stored] == [("p1.activations.forward", "latency_ratio", "cpu-8gb")]
    assert "Budgets: your figures" in runner.invoke(app, ["progress"]).output


def test_a_cpu_target_pins_threads_and_hides_cuda_in_the_grader_process(tmp_path, course):
    from mentor.grading.runner import GradeRequest, grade
    from mentor.paths import GRADERS_DIR

    probe = GRADERS_DIR / "_probe_env" / "test_env_probe.py"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text(
        "import os\nfrom mentor.grading.expect import expect\n\n"
        "def test_env(submission):\n"
        "    seen = (os.environ.get('OMP_NUM_THREADS'), os.environ.get('CUDA_VISIBLE_DEVICES'))\n"
        "    expect(seen == (submission.THREADS, ''), 'limits not applied', str(seen))\n"
    )
    try:
        target = resolve_target(course.profiles, "cpu-8gb", None)
        sub = tmp_path / "probe.py"
        sub.write_text(f"THREADS = {str(target.threads)!r}\n")
        result = grade(GradeRequest("_probe_env/test_env_probe.py", sub, sub, tmp_path, threads=target.threads, hide_cuda=target.hide_cuda))
        assert result.status == "passed", [t.diff for t in result.tests]
    finally:
        probe.unlink()
        probe.parent.rmdir()
