"""The training-loop lesson (p4.train): what tests/test_graders.py does not already prove.

The reference against values worked out by hand on a one-parameter model (accumulation, the mean loss,
the norm before clipping, evaluate's mode, the log's bytes, a checkpoint's round trip); the reference's
resume is bit-exact on the course's GPT; the grader's diagnosis helpers reproduce the mistakes they name;
graded files (real subprocesses) show the figures and lines their messages promise; and the reasoning
checks' drawn answers follow from their arithmetic.
"""

import functools
import importlib.util
import json
import math
import random
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from mentor.authoring import compose_known_wrong, compose_submission, grade_file, known_wrong_cases
from mentor.checks import evaluate as evaluate_formula
from mentor.checks import expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import draw
from mentor.lab import GPT, GPTConfig
from mentor.paths import GRADERS_DIR, content_root

pytestmark = pytest.mark.slow  # graders that train models, run many times over: the slow sweep

COURSE = load_course(content_root())
LOOP, RESUME = "p4.train.loop", "p4.train.resume"


def load_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def ref():
    return load_path("train_reference_p4", COURSE.content_root / COURSE.step(LOOP).solution)


@functools.cache
def loop_grader():
    return load_path("train_loop_grader_p4", GRADERS_DIR / "phase4" / "test_train_loop.py")


# -- a model whose numbers can be worked out by hand ---------------------------------------------------
class Scale(nn.Module):
    """loss = mean((w·x − y)²) over a batch of integers, with one scalar weight w; `factor` multiplies the
    loss in train mode only, as dropout changes what a model computes in train mode."""

    def __init__(self, w=0.5, factor=1.0):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.factor = factor

    def forward(self, x, y):
        loss = ((self.w * x.double() - y.double()) ** 2).mean()
        return None, loss * (self.factor if self.training else 1.0)


def batches(*pairs):
    """get_batch handing out the given (x, y) pairs in order, whatever the split; notes the splits asked."""
    queue = [(torch.tensor([x]), torch.tensor([y])) for x, y in pairs]
    calls = []

    def get_batch(split):
        calls.append(split)
        return queue[len(calls) - 1]

    get_batch.calls = calls
    return get_batch


def test_train_step_averages_micro_batches_and_clips_after_measuring():
    # micro-batches (x=1, y=2) and (x=3, y=1) with w = 0.5: losses (0.5-2)² = 2.25 and (1.5-1)² = 0.25, mean 1.25;
    # d/dw: 2(wx-y)x = -3 and 3, halved and added: 0. A third pair makes the gradient nonzero.
    model = Scale(0.5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = ref().train_step(model, opt, batches((1, 2), (3, 1)), 2)
    assert out == {"loss": 1.25, "grad_norm": 0.0}
    assert model.w.item() == 0.5
    # (x=2, y=0): loss (1-0)² = 1, gradient 2·1·2 = 4; with (x=1, y=2): loss 2.25, gradient -3. Mean loss 1.625,
    # gradient (4 - 3)/2 = 0.5, its norm 0.5; clipped to 0.1 the SGD step is 0.1 · 0.1 / (0.5 + 1e-6) · 0.5
    model = Scale(0.5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = ref().train_step(model, opt, batches((2, 0), (1, 2)), 2, max_norm=0.1)
    assert out["loss"] == 1.625 and math.isclose(out["grad_norm"], 0.5, rel_tol=1e-12)
    assert math.isclose(model.w.item(), 0.5 - 0.1 * 0.5 * 0.1 / (0.5 + 1e-6), rel_tol=1e-12)


def test_train_step_counts_no_stale_gradient_and_draws_training_batches():
    model = Scale(0.5)
    model.w.grad = torch.tensor(100.0, dtype=torch.float64)  # left from elsewhere
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    get_batch = batches((2, 0))
    out = ref().train_step(model, opt, get_batch, 1)
    assert out["grad_norm"] == 4.0 and model.w.item() == 0.5 - 4.0  # 2(w·2 - 0)·2 = 4, the stale 100 gone
    assert get_batch.calls == ["train"]


def test_evaluate_measures_in_eval_mode_and_restores_the_mode():
    model = Scale(0.5, factor=10.0)  # train mode would report ten times the loss
    get_batch = batches((1, 2), (3, 1), (2, 0))
    assert ref().evaluate(model, get_batch, 3) == (2.25 + 0.25 + 1.0) / 3
    assert model.training and get_batch.calls == ["val"] * 3
    model.eval()
    ref().evaluate(model, batches((1, 2)), 1)
    assert not model.training


def test_log_line_appends_exactly_one_json_line(tmp_path):
    path = tmp_path / "log.jsonl"
    ref().log_line(path, step=1, lr=0.5, val_loss=None)
    ref().log_line(str(path), step=2, lr=0.25, val_loss=3.0)
    assert path.read_text(encoding="utf-8") == (
        '{"step": 1, "lr": 0.5, "val_loss": null}\n{"step": 2, "lr": 0.25, "val_loss": 3.0}\n'
    )


def test_a_checkpoint_round_trip_restores_every_generator_and_leaves_one_file(tmp_path):
    model = Scale(0.25)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    model.w.grad = torch.tensor(1.0, dtype=torch.float64)
    opt.step()
    sched.step()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = tmp_path / "ckpt.pt"
    ref().save_checkpoint(path, model, opt, sched, 1, {"served": 7})
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
    assert torch.load(path, weights_only=True)["step"] == 1  # weights-only readable

    other = Scale(0.75)
    other_opt = torch.optim.AdamW(other.parameters(), lr=0.1)
    other_sched = torch.optim.lr_scheduler.LambdaLR(other_opt, lambda s: 1.0 / (s + 1))
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    step, data = ref().load_checkpoint(path, other, other_opt, other_sched)
    assert (step, data) == (1, {"served": 7})
    assert torch.equal(other.w, model.w) and other_sched.last_epoch == 1 and other_opt.param_groups[0]["lr"] == 0.05
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_a_checkpoint_without_rng_leaves_the_generators_alone(tmp_path):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ref().save_checkpoint(tmp_path / "c.pt", model, opt, sched, 0, {}, rng=False)
    torch.manual_seed(5)
    want = torch.get_rng_state()
    ref().load_checkpoint(tmp_path / "c.pt", model, opt, sched)
    assert torch.equal(torch.get_rng_state(), want)


def test_the_reference_resumes_bit_for_bit_on_the_gpt(tmp_path):
    tokens = torch.randint(0, 61, (2000,), generator=torch.Generator().manual_seed(0))

    def world(seed):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=61, block_size=16, d_model=32, n_layers=2, n_heads=2, dropout=0.1))
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 3))
        return model, opt, sched, ref().RandomWindows(tokens, 4, 16, seed=seed)

    straight = world(1)
    want = ref().train(*straight, 6, str(tmp_path / "a.pt"), 3)
    first = world(1)
    ref().train(*first, 3, str(tmp_path / "b.pt"), 3)
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    second = world(2)
    got = ref().train(*second, 6, str(tmp_path / "b.pt"), 3)
    assert got == want[3:]
    assert all(torch.equal(p, q) for p, q in zip(second[0].parameters(), straight[0].parameters()))
    assert ref().train(*world(3), 6, str(tmp_path / "b.pt"), 3) == []  # finished: nothing left to run


# -- the grader's diagnosis helpers ----------------------------------------------------------------------
def test_the_accumulation_candidates_reproduce_the_mistakes_they_name():
    g = loop_grader()
    twin = g.make(3)
    b = g.Batches(seed=4, B=2, T=8)
    windows = [b.window("train", i) for i in range(3)]
    mean = g.flat(g.mean_gradient(twin, windows, 3))
    summed = g.flat(g.grads_of(twin, windows))  # backward of each undivided loss
    last = g.flat(g.grads_of(twin, windows[-1:], 1 / 3))  # zeroed before each micro-batch
    candidates = g.accumulation_candidates(twin, windows, 3)
    assert g.first_match(summed, candidates, g.TOL64) == g.MISTAKES["summed"]
    assert g.first_match(last, candidates, g.TOL64) == g.MISTAKES["zero_inside"]
    assert g.first_match(mean, candidates, g.TOL64) is None
    big = (torch.cat([x for x, _ in windows]), torch.cat([y for _, y in windows]))
    assert torch.allclose(g.flat(g.grads_of(twin, [big])), mean, rtol=1e-12, atol=1e-15)  # the premise of the test
    clipped = g.accumulation_candidates(twin, windows, 3, max_norm=float(mean.norm()) / 4)
    assert g.first_match(mean, clipped, g.TOL64) == g.MISTAKES["not_clipped"]


def test_the_watched_model_sees_autocast_in_backward_and_the_spy_the_stepped_gradients():
    g = loop_grader()
    model, opt = g.spied(1, torch.float32)
    x, y = g.Batches(seed=2, B=2, T=8).window("train", 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x, y)[1]
        loss.backward()  # inside autocast: the mistake the watch exists for
    opt.step()
    kinds = [c["kind"] for c in model.calls]
    assert kinds == ["forward", "backward", "step"]
    assert model.calls[0]["autocast"] and model.calls[0]["dtype"] == torch.bfloat16 and model.calls[1]["cpu"]
    assert torch.equal(g.flat(model.calls[2]["grads"]), g.flat([p.grad for p in model.parameters()]))
    plain = g.make(1, torch.float32)
    assert torch.equal(plain(x, y)[1], GPT.forward(plain, x, y)[1])  # float32: the watched loss is GPT's own


# -- graded files --------------------------------------------------------------------------------------------
CRASHING_STEP = '''
def train_step(model, optimizer, get_batch, accum_steps, max_norm=None, scaler=None, autocast_dtype=None):
    optimizer.zero_grad()
    x, y = get_batch("train")
    loss = model(x, y[:, :-1])[1]
    loss.backward()
    optimizer.step()
    return {"loss": loss.item(), "grad_norm": 0.0}
'''


def _grade(job):
    step_id, case = job
    step = COURSE.step(step_id)
    with tempfile.TemporaryDirectory(prefix="mentor-p4-train-") as tmp:
        if case == "crashing_step":
            path = compose_submission(COURSE, step, Path(tmp), CRASHING_STEP)
        else:
            known = next(c for c in known_wrong_cases(COURSE, step) if c.name == case)
            path = compose_known_wrong(COURSE, step, known, Path(tmp))
        return grade_file(COURSE, step, path, Path(tmp), profile="cpu-8gb")


@functools.cache
def graded() -> dict:
    jobs = [
        (LOOP, "scaler_without_unscale"), (LOOP, "one_sequence_at_a_time"), (LOOP, "crashing_step"),
        (RESUME, "step_saved_before_counting"), (RESUME, "non_atomic_save"),
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(_grade, jobs)))


def failure(result, test_name):
    return next(t for t in result.tests if t.name == test_name and t.outcome != "passed")


def test_clipping_the_scaled_gradients_is_named_with_the_scale_it_measured():
    result = graded()[LOOP, "scaler_without_unscale"]
    test = failure(result, "test_grad_scaler_unscales_before_clipping")
    assert "scaler.step without unscale_ before clipping" in test.message
    assert "= 1024 x the true norm" in test.diff


def test_a_loop_over_sequences_fails_the_throughput_budget_with_its_figures():
    result = graded()[LOOP, "one_sequence_at_a_time"]
    test = failure(result, "test_train_step_throughput")
    assert "fewer tokens per second" in test.message
    assert "budget throughput_ratio" in test.diff and "allowed at least 0.67" in test.diff and "profile cpu-8gb" in test.diff
    figures = [m for m in result.measurements if m["budget"] == "throughput_ratio"]
    assert figures and not figures[0]["ok"] and figures[0]["measured"] < 0.67
    # the numbers themselves are right: accumulation over sequences of equal length is the same mean
    assert all(t.outcome == "passed" for t in result.tests if t.name in ("test_accumulation_equals_one_large_batch", "test_edge_sizes_and_another_model"))


def test_a_crash_in_train_step_shows_the_learners_line():
    result = graded()[LOOP, "crashing_step"]
    test = failure(result, "test_accumulation_equals_one_large_batch")
    assert "train_step raised RuntimeError" in test.message
    assert "your line" in test.diff and "loss = model(x, y[:, :-1])[1]" in test.diff and "accum_steps=4" in test.diff


def test_a_step_saved_before_counting_is_named_by_the_resume():
    result = graded()[RESUME, "step_saved_before_counting"]
    test = failure(result, "test_resume_is_bit_exact")
    assert "the checkpoint's step is one behind" in test.message and "repeats a step" in test.message
    assert failure(result, "test_train_saves_every_n_steps_and_at_the_end")


def test_a_non_atomic_save_loses_the_previous_checkpoint_and_nothing_else_fails():
    result = graded()[RESUME, "non_atomic_save"]
    failed = [t.name for t in result.tests if t.outcome != "passed"]
    assert failed == ["test_an_interrupted_save_keeps_the_previous_checkpoint"]
    assert "non-atomic save" in failure(result, failed[0]).message


# -- the reasoning checks ------------------------------------------------------------------------------------
def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def drawn(step_id: str, check_id: str, learners=8):
    c = check(step_id, check_id)
    return [(c, d, float(expected_answer(c, d))) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def scaled_clip_norm(k, n):
    """What clipping before unscale_ leaves, worked out with a real GradScaler-style scale and torch's clip."""
    p = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    p.grad = torch.tensor([n * 2.0**k], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([p], 1.0)
    return float(p.grad.abs()) / 2.0**k


def test_the_numeric_answers_follow_from_their_arithmetic():
    worked = {
        (LOOP, "accum-steps"): lambda b, T, M: M // (b * T) if M % (b * T) == 0 else None,
        (LOOP, "scaler-without-unscale"): scaled_clip_norm,
        (LOOP, "dropout-scale"): lambda p: 1 / (1 - p),  # what F.dropout does (test below)
        (RESUME, "checkpoint-bytes"): lambda P: 3 * 4 * P * 10**6,  # weights, m, v in float32
        (RESUME, "redone-steps"): lambda E, C: (C - 1) - max(s for s in range(0, C, E)),  # since the last save
    }
    for (step_id, check_id), work in worked.items():
        for c, d, expected in drawn(step_id, check_id):
            want = work(**{k: (int(v) if float(v).is_integer() else v) for k, v in d.params.items()})
            assert want is not None, (check_id, d.params)  # the draws divide evenly
            assert math.isclose(expected, want, rel_tol=c.answer.tolerance / 10 or 1e-9), (check_id, d.params)
            assert is_correct(c, repr(want), d), (check_id, d.params)


def test_dropout_scales_the_kept_activations_as_the_check_says():
    for p in (0.15, 0.35, 0.45):
        out = torch.nn.functional.dropout(torch.ones(10_000), p, training=True)
        assert math.isclose(float(out.max()), 1 / (1 - p), rel_tol=1e-6)


def test_the_classic_wrong_answers_are_rejected():
    for step_id in (LOOP, RESUME):
        for c in COURSE.step(step_id).checks:
            for _, d, _ in drawn(step_id, c.id, learners=3) if c.params else []:
                for wrong in c.answer.wrong or []:
                    value = evaluate_formula(wrong.formula, d.params)
                    assert not is_correct(c, repr(value), d), (c.id, d.params, wrong.formula)


def test_the_rubrics_accept_their_own_explanation_and_reject_a_vague_answer():
    modes = check(LOOP, "eval-mode-and-no-grad")
    assert is_correct(modes, modes.explain)
    assert not is_correct(modes, "Both make evaluation faster.")
    assert not is_correct(modes, "no_grad turns off dropout and eval saves memory.")
    rng = check(RESUME, "forgotten-rng")
    assert is_correct(rng, rng.explain)
    assert is_correct(rng, "It differs: dropout draws other masks, because the random generator state was not restored.")
    assert not is_correct(rng, "It is the same because the weights are restored.")


@pytest.mark.parametrize("step_id", [LOOP, RESUME])
def test_every_choice_option_but_the_right_one_says_why(step_id):
    for c in COURSE.step(step_id).checks:
        if c.answer.choice is not None:
            assert all(o.why for i, o in enumerate(c.options) if chr(ord("a") + i) != c.answer.choice)


def test_the_log_is_json_lines_a_report_can_read(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [dict(step=s, tokens=512 * s, train_loss=4.0 - s / 10, val_loss=None, lr=3e-4, grad_norm=0.5, tokens_per_s=900.0) for s in range(3)]
    for row in rows:
        ref().log_line(path, **row)
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows
