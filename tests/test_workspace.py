"""The workspace is the learner's and the course is not: pristine stubs, resetting one step of a
shared file, backups that can be undone, updates that keep every file and record, and moving a
whole workspace to another machine. Each test drives the real CLI."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from answering import answer_args
from mentor.cli import app
from mentor.curriculum import load_course
from mentor.grading.runner import GradeResult
from mentor.content import copy_shipped, shipped_files
from mentor.paths import PACKAGE_DIR, content_root
from mentor.progress import ProgressStore

runner = CliRunner()
COURSE = load_course(content_root())
ATTENTION = "exercises/phase2/attention.py"


def mentor(*args: str):
    return runner.invoke(app, list(args))


def master_up_to(ws: Path, step_id: str, course=COURSE) -> None:
    """Records saying every step before `step_id` (and not it) was passed and its checks answered."""
    store = ProgressStore(ws / "progress.db")
    for step in course.steps:
        if step.id == step_id:
            break
        store.record_attempt(step.id, GradeResult("passed", "", []))
        for check in step.checks:
            store.record_answer(step.id, check.id, "recorded by the test", True)
    store.close()


def stub_text(relpath: str) -> str:
    """An exercise stub as the course ships it, whatever the checkout's own copy says."""
    return shipped_files(content_root(), [relpath])[relpath].decode("utf-8")


def solution_text(step_id: str) -> str:
    return (content_root() / COURSE.step(step_id).solution).read_text()


# -- pristine stubs --------------------------------------------------------------------------------
@pytest.fixture
def edited_checkout(tmp_path) -> Path:
    """A git checkout of the course whose exercises/ someone edited after the last commit."""
    root = tmp_path / "checkout"
    shutil.copytree(content_root() / "mentor", root / "mentor", ignore=shutil.ignore_patterns("__pycache__"))
    copy_shipped(content_root(), root, ("curriculum", "exercises", "solutions"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "course"], cwd=root, check=True)
    for step_id in ("p1.neuron.forward", "p2.attention.sdpa"):
        step = COURSE.step(step_id)
        shutil.copy(root / step.solution, root / step.exercise)  # "solved" in the checkout itself
    return root


def run_from(checkout: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m mentor ARGS` with the checkout's own mentor package, as in an editable install of it."""
    env = {k: v for k, v in os.environ.items() if k not in ("MENTOR_CONTENT", "MENTOR_WORKSPACE")}
    env["PYTHONPATH"] = str(checkout)
    return subprocess.run([sys.executable, "-m", "mentor", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_init_and_reset_take_the_stubs_as_committed_never_an_edited_checkout(edited_checkout, tmp_path):
    made = run_from(edited_checkout, "init", str(tmp_path / "ws"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    ws = tmp_path / "ws"
    for step_id in ("p1.neuron.forward", "p2.attention.sdpa"):
        exercise = COURSE.step(step_id).exercise
        committed = subprocess.run(
            ["git", "show", f"HEAD:{exercise}"], cwd=edited_checkout, capture_output=True, text=True, check=True
        ).stdout
        assert (ws / exercise).read_text() == committed != (edited_checkout / exercise).read_text()
    check = run_from(edited_checkout, "check", "--json", cwd=ws)
    assert json.loads(check.stdout)["status"] == "not_started"

    (ws / "exercises/phase1/neuron.py").write_text("# my attempt\n")
    assert run_from(edited_checkout, "reset", "p1.neuron.forward", "--yes", cwd=ws).returncode == 0
    assert (ws / "exercises/phase1/neuron.py").read_text() == stub_text("exercises/phase1/neuron.py")


def test_init_makes_a_workspace_shows_its_first_step_and_again_only_shows_where_you_are(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    first = COURSE.steps[0]
    made = mentor("init", str(tmp_path / "llm-course"))
    assert made.exit_code == 0, made.output
    assert "cd " in made.output and first.title in made.output and first.id in made.output
    neuron = tmp_path / "llm-course" / first.exercise
    neuron.write_text("# my work\n")
    again = mentor("init", str(tmp_path / "llm-course"))
    assert again.exit_code == 0 and "already your workspace" in again.output and first.id in again.output
    assert neuron.read_text() == "# my work\n"
    assert sorted(p.name for p in (tmp_path / "llm-course").iterdir()) == [".gitignore", ".mentor", "exercises", "mentor.toml", "progress.db"]


def test_the_course_checkout_is_not_a_workspace():
    assert not (content_root() / "mentor.toml").exists()
    assert not (PACKAGE_DIR.parent / "mentor.toml").exists()


# -- reset -------------------------------------------------------------------------------------------
@pytest.fixture
def at_causal(ws) -> Path:
    """A workspace whose learner mastered everything before causal masking; attention.py holds their
    own (here: the reference's) code of all three attention steps, with a comment of theirs."""
    master_up_to(ws, "p2.attention.causal")
    (ws / ATTENTION).write_text("# my notes on attention\n" + solution_text("p2.attention.sdpa"))
    return ws


def test_reset_restores_only_the_steps_part_of_a_shared_file(at_causal):
    mine = (at_causal / ATTENTION).read_text()
    result = mentor("reset", "p2.attention.causal", "--yes")
    assert result.exit_code == 0, result.output
    now = (at_causal / ATTENTION).read_text()
    stub = stub_text(ATTENTION)
    namespace: dict = {}
    exec(compile(now, ATTENTION, "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["causal_mask"](3)
    assert now.startswith("# my notes on attention\n")
    for kept in ("def scaled_dot_product_attention", "def split_heads", "def merge_heads", "class MultiHeadAttention"):
        mine_part = mine[mine.index(kept) :].split("\n\n\n")[0]
        assert mine_part in now and mine_part not in stub, kept
    backups = mentor("reset", "--list").output
    assert ATTENTION in backups and "reset p2.attention.causal" in backups


def test_reset_says_what_it_replaces_and_keeps_before_it_asks(at_causal):
    result = mentor("reset", "p2.attention.causal", "--yes")
    replaced, kept = result.output.splitlines()[:2]
    assert "causal_mask" in replaced and "causal_attention" in replaced and "split_heads" not in replaced
    assert all(name in kept for name in ("scaled_dot_product_attention", "split_heads", "MultiHeadAttention"))


def test_reset_refuses_a_locked_step(ws):
    before = (ws / ATTENTION).read_text()
    result = mentor("reset", "p2.attention.causal", "--yes")
    assert result.exit_code == 1 and "locked" in result.output
    assert (ws / ATTENTION).read_text() == before and not (ws / ".mentor" / "backups").exists()


def test_reset_of_a_file_that_does_not_parse_names_the_line_and_changes_nothing(at_causal):
    broken = (at_causal / ATTENTION).read_text() + "\ndef oops(:\n"
    (at_causal / ATTENTION).write_text(broken)
    result = mentor("reset", "p2.attention.causal", "--yes")
    assert result.exit_code == 1 and "does not parse" in result.output and "--whole-file" in result.output
    assert (at_causal / ATTENTION).read_text() == broken
    whole = mentor("reset", "p2.attention.causal", "--yes", "--whole-file")
    assert whole.exit_code == 0 and "other steps" in whole.output
    assert (at_causal / ATTENTION).read_text() == stub_text(ATTENTION)


def test_reset_without_a_step_resets_the_current_one(ws):
    (ws / "exercises/phase1/neuron.py").write_text("# mine\n")
    assert mentor("reset", "--yes").exit_code == 0
    assert (ws / "exercises/phase1/neuron.py").read_text() == stub_text("exercises/phase1/neuron.py")


def test_undo_puts_the_newest_backup_back_and_is_itself_undoable(ws):
    neuron = ws / "exercises/phase1/neuron.py"
    versions = ["# first try\n", "# second try\n"]
    for text in versions:  # two resets within the same second keep two backups
        neuron.write_text(text)
        assert mentor("reset", "p1.neuron.forward", "--yes").exit_code == 0
    listed = mentor("reset", "--list").output.splitlines()
    assert len(listed) == 2 and listed[0].lstrip().startswith("1 ")
    assert mentor("reset", "--undo", "--yes").exit_code == 0
    assert neuron.read_text() == versions[1]
    assert mentor("reset", "--undo", "3", "--yes").exit_code == 0  # the oldest of now three backups
    assert neuron.read_text() == versions[0]
    assert mentor("reset", "--undo", "1", "--yes").exit_code == 0  # undo the undo
    assert neuron.read_text() == versions[1]


def test_undo_without_backups_says_so(ws):
    result = mentor("reset", "--undo", "--yes")
    assert result.exit_code == 1 and "no backup" in result.output


# -- update ------------------------------------------------------------------------------------------
def _content_copy(dest: Path) -> Path:
    return copy_shipped(content_root(), dest, ("curriculum", "exercises", "solutions"))


def _older_course(dest: Path) -> Path:
    """The course as an earlier version shipped it: no GPT step yet, the first step under another id,
    and older stubs of mlp.py and train_mlp.py."""
    old = _content_copy(dest)
    phase2 = old / "curriculum" / "phase2.yaml"
    data = yaml.safe_load(phase2.read_text())
    data["lessons"] = [les for les in data["lessons"] if les["id"] != "p2.gpt"]
    phase2.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    phase1 = old / "curriculum" / "phase1.yaml"
    phase1.write_text(phase1.read_text().replace("id: p1.neuron.forward\n", "id: p1.neuron.fwd\n"))
    for name in ("mlp.py", "train_mlp.py"):
        stub = old / "exercises" / "phase1" / name
        stub.write_text("# an older stub\n" + stub.read_text())
    (old / "exercises" / "phase2" / "gpt.py").unlink()
    return old


@pytest.fixture
def updated_course(tmp_path) -> Path:
    new = _content_copy(tmp_path / "new")
    course_file = new / "curriculum" / "course.yaml"
    data = yaml.safe_load(course_file.read_text())
    data["renamed"] = {"p1.neuron.fwd": "p1.neuron.forward"}
    course_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return new


def test_update_from_an_older_course_keeps_every_file_and_record(tmp_path, monkeypatch, updated_course):
    monkeypatch.setenv("MENTOR_CONTENT", str(_older_course(tmp_path / "old")))
    monkeypatch.setenv("COLUMNS", "200")
    ws = tmp_path / "ws"
    assert mentor("init", str(ws)).exit_code == 0
    monkeypatch.chdir(ws)
    mine = "# my own MLP, in progress\n"
    (ws / "exercises/phase1/mlp.py").write_text(mine)  # edited; the course changes its stub too
    (ws / "exercises/phase1/neuron.py").write_text("# my neuron\n")  # edited; the course leaves it
    untouched = (ws / "exercises/phase1/train_mlp.py").read_text()  # never edited; the course changes it
    store = ProgressStore(ws / "progress.db")
    store.record_attempt("p1.neuron.fwd", GradeResult("failed", "", []))
    store.record_hint("p1.neuron.fwd", 1)
    store.close()

    monkeypatch.setenv("MENTOR_CONTENT", str(updated_course))
    first = mentor("next")
    assert "mentor update" in first.output and "mentor update" not in mentor("next").output  # mentioned once
    dry = mentor("update", "--dry-run", "--json")
    assert json.loads(dry.output)["written"] == ["exercises/phase2/gpt.py"]
    assert not (ws / "exercises/phase2/gpt.py").exists()  # a dry run changes nothing

    result = mentor("update", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert report["new_steps"] == ["p2.gpt.model"] and report["renamed"] == {"p1.neuron.fwd": "p1.neuron.forward"}
    assert report["written"] == ["exercises/phase2/gpt.py"]
    assert report["replaced"] == ["exercises/phase1/train_mlp.py"]
    assert report["beside"] == {"exercises/phase1/mlp.py": "exercises/phase1/mlp.new.py"}
    assert (ws / "exercises/phase1/mlp.py").read_text() == mine
    assert (ws / "exercises/phase1/mlp.new.py").read_text() == (updated_course / "exercises/phase1/mlp.py").read_text()
    assert (ws / "exercises/phase1/neuron.py").read_text() == "# my neuron\n"
    assert (ws / "exercises/phase1/train_mlp.py").read_text() == (updated_course / "exercises/phase1/train_mlp.py").read_text()
    assert untouched in [(b / "train_mlp.py").read_text() for b in (ws / ".mentor/backups").iterdir()]
    steps = {s["id"]: s for s in json.loads(mentor("progress", "--json").output)["steps"]}
    assert steps["p1.neuron.forward"]["attempts"] == 1 and steps["p1.neuron.forward"]["hints_seen"] == 1
    again = json.loads(mentor("update", "--json").output)
    assert not again["changed"] and not again["beside"]  # the second run has nothing left to say


def test_update_names_the_records_of_a_step_the_course_removed(ws, monkeypatch):
    store = ProgressStore(ws / "progress.db")
    store.record_attempt("p0.retired.step", GradeResult("failed", "", []))
    store.close()
    report = json.loads(mentor("update", "--json").output)
    assert report["removed_steps"] == ["p0.retired.step"] and not report["changed"]


# -- moving machines -----------------------------------------------------------------------------------
def test_export_and_import_carry_code_and_records_to_a_fresh_workspace(ws, tmp_path, monkeypatch):
    (ws / "exercises/phase1/neuron.py").write_text(solution_text("p1.neuron.forward"))
    (ws / "exercises/phase1/scratch.py").write_text("# my experiments\n")
    assert mentor("check", *answer_args(ws, COURSE.step("p1.neuron.forward"))).exit_code == 0
    before = json.loads(mentor("progress", "--json").output)
    saved = tmp_path / "carry.json"
    assert mentor("export", str(saved)).exit_code == 0

    other = tmp_path / "other"
    assert mentor("init", str(other)).exit_code == 0
    monkeypatch.chdir(other)
    (other / "exercises/phase1/activations.py").write_text("# written on this machine\n")
    result = mentor("import", str(saved))
    assert result.exit_code == 0, result.output
    for rel in ("exercises/phase1/neuron.py", "exercises/phase1/scratch.py", "exercises/phase1/activations.py"):
        assert (other / rel).read_text() == (ws / rel).read_text()
    assert "exercises/phase1/activations.py differed" in result.output
    kept = [b / "activations.py" for b in (other / ".mentor/backups").iterdir() if (b / "activations.py").exists()]
    assert [p.read_text() for p in kept] == ["# written on this machine\n"]
    after = json.loads(mentor("progress", "--json").output)
    assert after["store"] == before["store"] and after["current"] == before["current"] != "p1.neuron.forward"


def test_import_refuses_a_file_outside_exercises_and_touches_nothing(ws, tmp_path):
    bad = {"format": "mentor-workspace", "version": 1, "store": {"schema_version": 3, "tables": {}},
           "files": {"../escape.py": "x = 1\n"}}  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = mentor("import", str(path))
    assert result.exit_code == 2 and "outside exercises/" in result.output
    assert not (ws.parent / "escape.py").exists()


def test_import_refuses_an_export_from_a_newer_mentor(ws, tmp_path):
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"format": "mentor-workspace", "version": 99, "store": {}, "files": {}}))
    result = mentor("import", str(path))
    assert result.exit_code == 2 and "newer mentor" in result.output


def test_work_kept_in_a_course_checkout_by_an_earlier_mentor_moves_into_a_workspace(tmp_path, monkeypatch):
    """An earlier mentor used the course's clone as the workspace; after a pull it no longer is one."""
    monkeypatch.setenv("COLUMNS", "200")
    old = tmp_path / "clone"
    copy_shipped(content_root(), old, ("curriculum", "exercises"))
    (old / "exercises/phase1/neuron.py").write_text(solution_text("p1.neuron.forward"))
    store = ProgressStore(old / "progress.db")
    store.record_attempt("p1.neuron.forward", GradeResult("passed", "", []))
    store.record_hint("p1.neuron.forward", 1)
    store.close()
    monkeypatch.chdir(old)
    lost = mentor("next")
    assert lost.exit_code == 2 and f"--from {old}" in lost.output

    made = mentor("init", str(tmp_path / "llm-course"), "--from", str(old))
    assert made.exit_code == 0, made.output
    ws = tmp_path / "llm-course"
    assert (ws / "exercises/phase1/neuron.py").read_text() == solution_text("p1.neuron.forward")
    assert (ws / "exercises/phase1/activations.py").read_text() == stub_text("exercises/phase1/activations.py")
    monkeypatch.chdir(ws)
    steps = {s["id"]: s for s in json.loads(mentor("progress", "--json").output)["steps"]}
    assert steps["p1.neuron.forward"]["attempts"] == 1 and steps["p1.neuron.forward"]["hints_seen"] == 1
    assert (old / "exercises/phase1/neuron.py").read_text() == solution_text("p1.neuron.forward")  # the old copy stays
