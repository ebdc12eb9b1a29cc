"""The capstone engine: configurations and their plan, a run of the learner's files with checkpoints,
Ctrl-C and an exact resume, the course's reference standing in for an unfinished file, and the same
run under torchrun (2 processes, gloo) equal to one process with the whole batch.

The runs use the `tiny` configuration in workspaces whose exercise files are the course's
references (a learner who has done everything), so no test depends on a learner's work.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.capstone import plan_capstone
from mentor.capstone.components import workspace_with_references
from mentor.capstone.config import load_configs
from mentor.capstone.data import documents_of
from mentor.capstone.plan import course_memory_module
from mentor.cli import app
from mentor.grading.plugin import load_module_from
from mentor.paths import content_root
from mentor.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
# after a few AdamW steps at lr <= 3e-3, float32 sums taken in another order (gloo's all-reduce, two
# half-batch means) move parameters by ~1e-6; ranks on the same rows, or one rank's gradient alone,
# move them by ~lr per step, a thousand times more
DDP_TOLERANCE = 1e-4


def mentor(ws: Path, *args: str):
    return runner.invoke(app, list(args), env={"MENTOR_WORKSPACE": str(ws), "COLUMNS": "200"})


def subprocess_env() -> dict:
    # one thread per process: the machines that run the suite are small and shared
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def checkpoint_model(ws: Path, name: str = "checkpoint.pt") -> dict:
    import torch

    return torch.load(ws / "capstone" / "tiny" / name, map_location="cpu", weights_only=True)["model"]


def log_of(ws: Path) -> list[dict]:
    return [json.loads(line) for line in (ws / "capstone" / "tiny" / "log.jsonl").read_text().splitlines()]


@pytest.fixture
def done_ws(tmp_path, course) -> Path:
    """A workspace whose exercise files are the course's references."""
    return workspace_with_references(tmp_path / "ws", course).root


def _reference_gpt(config):
    import torch

    gpt = load_module_from(str(content_root() / "solutions" / "phase2" / "gpt.py"), "capstone_test_gpt", isolate=True)
    with torch.device("meta"):  # shapes only: the 100M model costs no memory
        return gpt.GPT(gpt.GPTConfig(config.vocab_size, config.block_size, config.d_model, config.n_layers, config.n_heads))


# -- configurations and the plan ------------------------------------------------------------------


@pytest.fixture
def small_text(tmp_path) -> Path:
    file = tmp_path / "small.txt"
    file.write_text("\n\n".join(f"Document {i} talks about the weather and the sea." for i in range(300)), encoding="utf-8")
    return file


def test_every_configuration_counts_the_parameters_of_the_model_it_builds(course, small_text):
    memory = course_memory_module(course.content_root)
    for name, config in load_configs(course.content_root, course.profiles).items():
        plan = plan_capstone(None, course, name, small_text)
        built = sum(p.numel() for p in _reference_gpt(config).parameters())  # a tied weight once
        assert plan.params == built, name
        assert plan.memory["total"] == memory.training_memory(
            memory.GPTConfig(config.vocab_size, config.block_size, config.d_model, config.n_layers, config.n_heads),
            config.batch, config.block_size, config.dtype,
        )["total"], name  # fmt: skip


def test_the_profiles_get_the_scale_the_course_promises_and_fit_their_memory(course, small_text):
    for name in ("cpu-8gb", "gpu-16gb"):
        plan = plan_capstone(None, course, name, small_text)
        promised = course.profiles[name].capstone_params
        assert 0.9 * promised <= plan.params <= 1.1 * promised, (name, plan.params)
        assert plan.memory["fits"] and plan.memory["limit"] == course.profiles[name].memory_gb * 2**30


def test_plan_json_states_tokens_wanted_had_and_missing_and_the_time(tmp_path, course, monkeypatch, small_text):
    monkeypatch.chdir(tmp_path)  # no workspace: a plan needs none
    file, text = small_text, small_text.read_text(encoding="utf-8")
    result = runner.invoke(app, ["capstone", "plan", "--profile", "cpu-8gb", "--file", str(file), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    config = load_configs(course.content_root, course.profiles)["cpu-8gb"]
    assert plan["tokens_wanted"] == round(20 * plan["params"])
    assert plan["text"] == {**plan["text"], "source": str(file), "bytes": len(text.encode()), "counted": False}
    assert plan["text"]["tokens"] == round(len(text.encode()) / config.bytes_per_token)
    train_tokens = round(plan["text"]["tokens"] * (1 - config.val_fraction))
    assert plan["shortfall"] == plan["tokens_wanted"] - train_tokens
    assert "--file" in plan["advice"]
    assert plan["steps"] * plan["tokens_per_step"] == plan["tokens_planned"] >= plan["tokens_wanted"]
    assert plan["expected_seconds"] == pytest.approx(plan["tokens_planned"] / config.tokens_per_s, rel=1e-3)


def test_plan_on_the_terminal_shows_each_figure_and_what_to_do(tmp_path, monkeypatch, small_text):
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, ["capstone", "plan", "--profile", "cpu-8gb", "--file", str(small_text)], env={"COLUMNS": "200"}).output
    for figure in ("10,591,744 parameters", "8,192 tokens per step", "(20 per parameter)", "estimated", "of 8.00 GiB", "fits",
                   "at 1,500 tokens/s (stated for this profile)", "--file YOUR_TEXT.txt"):  # fmt: skip
        assert figure in out, figure


def test_plan_of_a_missing_file_or_an_unknown_profile_says_so():
    result = runner.invoke(app, ["capstone", "plan", "--profile", "tiny", "--file", "/nowhere/book.txt"])
    assert result.exit_code == 2 and "/nowhere/book.txt does not exist" in result.output
    result = runner.invoke(app, ["capstone", "plan", "--profile", "huge"])
    assert result.exit_code == 2 and "no capstone configuration 'huge'" in result.output and "tiny" in result.output


# -- a run in one process ---------------------------------------------------------------------------


def test_a_run_logs_each_step_holds_validation_out_by_document_and_is_never_started_twice(done_ws):
    result = mentor(done_ws, "capstone", "train", "--profile", "tiny", "--resume")
    assert result.exit_code == 2 and "nothing to resume" in result.output
    result = mentor(done_ws, "capstone", "train", "--profile", "tiny", "--steps", "10")
    assert result.exit_code == 0, result.output
    run = done_ws / "capstone" / "tiny"
    before = (run / "checkpoint.pt").read_bytes()
    again = mentor(done_ws, "capstone", "train", "--profile", "tiny")
    assert again.exit_code == 2 and "--resume" in again.output and (run / "checkpoint.pt").read_bytes() == before
    assert {p.name for p in run.iterdir()} >= {"checkpoint.pt", "log.jsonl", "plan.json", "tokenizer.json", "data"}
    log = log_of(done_ws)
    assert [r["step"] for r in log] == list(range(1, 11))
    assert set(log[0]) == {"step", "tokens", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s"}
    assert log[-1]["tokens"] == 10 * 8 * 2 * 64 and log[-1]["val_loss"] is not None
    assert log[-1]["train_loss"] < log[0]["train_loss"] < 6.5  # from about ln(512) = 6.24, going down
    meta = json.loads((run / "data" / "meta.json").read_text())
    from mentor.corpus import default_corpus

    documents = documents_of(default_corpus(200_000))
    assert meta["splits"]["val"]["documents"] > 0
    assert meta["splits"]["train"]["documents"] + meta["splits"]["val"]["documents"] == len(documents)
    plan = json.loads((run / "plan.json").read_text())
    assert set(plan["components"].values()) == {"yours"}
    # once a run has tokenized the text and timed its steps, the plan counts and measures instead of estimating
    replanned = json.loads(mentor(done_ws, "capstone", "plan", "--profile", "tiny", "--json").output)
    assert replanned["text"]["counted"] and replanned["text"]["tokens"] == sum(x["tokens"] for x in meta["splits"].values())
    assert replanned["throughput_measured"] and replanned["tokens_per_s"] > 0


def test_a_resumed_run_ends_bit_for_bit_where_the_uninterrupted_one_does(tmp_path, course):
    whole = workspace_with_references(tmp_path / "whole", course).root
    split = workspace_with_references(tmp_path / "split", course).root
    assert mentor(whole, "capstone", "train", "--profile", "tiny", "--steps", "6").exit_code == 0
    first = mentor(split, "capstone", "train", "--profile", "tiny", "--steps", "3")
    assert first.exit_code == 0 and "--resume" in first.output
    second = mentor(split, "capstone", "train", "--profile", "tiny", "--resume", "--steps", "6")
    assert second.exit_code == 0, second.output
    a, b = checkpoint_model(whole), checkpoint_model(split)
    assert all((a[k] == b[k]).all() for k in a)
    assert [r["train_loss"] for r in log_of(whole)] == [r["train_loss"] for r in log_of(split)]


def test_ctrl_c_saves_says_how_to_resume_and_exits_130(done_ws):
    log = done_ws / "capstone" / "tiny" / "log.jsonl"

    def press_ctrl_c_after_three_steps():
        deadline = time.monotonic() + 60
        while (not log.is_file() or len(log.read_text().splitlines()) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, as a terminal sends it, to this process

    presser = threading.Thread(target=press_ctrl_c_after_three_steps, daemon=True)
    presser.start()
    result = mentor(done_ws, "capstone", "train", "--profile", "tiny", "--steps", "100000")
    presser.join()
    assert result.exit_code == 130, result.output
    assert "mentor capstone train --profile tiny --resume" in result.output
    stopped = log_of(done_ws)[-1]["step"]
    import torch

    saved = torch.load(done_ws / "capstone" / "tiny" / "checkpoint.pt", weights_only=True)
    assert 3 <= saved["step"] == stopped < 100000  # the step in flight finished, was logged and saved
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is the caller's again
    result = mentor(done_ws, "capstone", "train", "--profile", "tiny", "--resume", "--steps", str(stopped + 2))
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in log_of(done_ws)] == list(range(1, stopped + 3))


# -- the learner's files --------------------------------------------------------------------------


def test_unfinished_files_are_named_and_the_course_stands_in_or_strict_refuses(tmp_path, course):
    ws = init_workspace(tmp_path / "fresh", course).root  # every exercise still a stub
    strict = mentor(ws, "capstone", "train", "--profile", "tiny", "--steps", "1", "--strict")
    assert strict.exit_code == 2
    assert "exercises/phase2/bpe_train.py is not done yet: train_bpe raises NotImplementedError" in strict.output
    assert not (ws / "capstone" / "tiny" / "checkpoint.pt").exists()
    (ws / "exercises" / "phase4" / "data.py").unlink()
    result = mentor(ws, "capstone", "train", "--profile", "tiny", "--steps", "1")
    assert result.exit_code == 0, result.output
    for file in ("phase2/bpe_train.py", "phase2/gpt.py", "phase3/adamw.py", "phase4/train.py"):
        assert f"exercises/{file} is not done yet" in result.output
    assert "exercises/phase4/data.py is missing: `mentor reset p4.data.shards` puts its stub back" in result.output
    components = json.loads((ws / "capstone" / "tiny" / "plan.json").read_text())["components"]
    assert all(origin.startswith("course: ") for origin in components.values())


def test_a_crash_in_a_learner_file_names_its_line_and_keeps_the_checkpoint(done_ws):
    assert mentor(done_ws, "capstone", "train", "--profile", "tiny", "--steps", "2").exit_code == 0
    before = (done_ws / "capstone" / "tiny" / "checkpoint.pt").read_bytes()
    train = done_ws / "exercises" / "phase4" / "train.py"
    # correct on the probe's toy model (vocab 16), wrong on the real one: fails only during the run
    train.write_text(train.read_text().replace("        x, y = get_batch(\"train\")", "        x, y = get_batch(\"train\")\n        assert x.max() < 16, 'ids too large'"))
    result = mentor(done_ws, "capstone", "train", "--profile", "tiny", "--resume", "--steps", "4")
    assert result.exit_code == 2
    assert "exercises/phase4/train.py:" in result.output and "AssertionError: ids too large" in result.output
    assert (done_ws / "capstone" / "tiny" / "checkpoint.pt").read_bytes() == before


def test_everyday_commands_and_the_capstone_help_never_import_torch(ws, modules_at_exit):
    for args in (("next",), ("list",), ("capstone", "--help"), ("capstone", "train", "--help")):
        assert "torch" not in modules_at_exit(ws, *args), args


# -- torchrun ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # three interpreters importing torch: about a minute on a small shared machine
def test_two_gloo_processes_train_as_one_with_the_whole_batch_and_resume_in_one(tmp_path, course):
    distributed = workspace_with_references(tmp_path / "ddp", course).root
    single = workspace_with_references(tmp_path / "single", course).root
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", "-m", "mentor", "capstone", "train", "--profile", "tiny", "--steps", "4"]  # fmt: skip
    proc = subprocess.run(command, cwd=distributed, env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 processes" in proc.stdout and proc.stdout.count("training from step 0") == 1  # rank 0 alone speaks
    assert json.loads((distributed / "capstone" / "tiny" / "plan.json").read_text())["memory"]["per_process_batch"] == 4
    assert mentor(single, "capstone", "train", "--profile", "tiny", "--steps", "4").exit_code == 0
    a, b = checkpoint_model(distributed), checkpoint_model(single)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < DDP_TOLERANCE
    # the distributed checkpoint goes on in one process, which then takes the whole batch of 8
    resumed = mentor(distributed, "capstone", "train", "--profile", "tiny", "--resume", "--steps", "6")
    assert resumed.exit_code == 0, resumed.output
    assert mentor(single, "capstone", "train", "--profile", "tiny", "--resume", "--steps", "6").exit_code == 0
    a, b = checkpoint_model(distributed), checkpoint_model(single)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < DDP_TOLERANCE
