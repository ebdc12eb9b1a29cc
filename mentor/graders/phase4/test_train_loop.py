"""Grader: one optimizer step from several micro-batches, mixed precision, an honest evaluation, a log line.

The model is mentor.lab.GPT, watched: every forward notes the mode, whether autograd and autocast were on
and the targets it was given; every backward whether autocast was on. The optimizer is a spy that keeps
the gradients it is stepped with, or torch.optim.AdamW where a trajectory is compared. Expected gradients
come from the grader's own forward and backward on an identical model; trajectories, the GradScaler path
and the speed from the reference's train_step at the same seed, run before the learner's. When a value
differs, the classic mistakes are worked out from the same micro-batches (summed instead of averaged,
zeroed inside the loop, not clipped, targets not shifted, ...) and the one that reproduces the learner's
numbers is named.
"""

import json
import math
import traceback
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal
from mentor.lab import GPT, GPTConfig

# Bound before any learner code runs: expected values never go through a patched name.
_equal, _allclose, _total_norm = torch.equal, torch.allclose, torch.nn.utils.get_total_norm
GradScaler, AdamW = torch.amp.GradScaler, torch.optim.AdamW
_loads = json.loads

TINY = dict(vocab_size=61, block_size=16, d_model=32, n_layers=2, n_heads=2)
# Timed: 0.11M parameters, 2 micro-batches of 8 x 32 tokens; one thread, ~10-30 ms a step.
TIMED = dict(vocab_size=128, block_size=32, d_model=64, n_layers=2, n_heads=4)
# float64: accumulating micro-batch gradients agrees with one large batch to ~1e-16 relative (any order of
# the additions); every mistake here is off by a factor (accum_steps, a clip factor) or a different batch.
TOL64 = dict(rtol=1e-9, atol=1e-12)
# float32: four accumulated backward passes against one: ~1e-7 relative, gradients of ~1e-3..1e-1.
TOL32 = dict(rtol=1e-5, atol=1e-6)
# bfloat16 autocast: the same operations in the same dtypes agree to float32 rounding; the order in which
# gradients are added is the only freedom. Without autocast the gradients move by ~1e-2 relative.
TOL_BF16 = dict(rtol=1e-4, atol=1e-6)

MISTAKES = {
    "summed": (
        "the micro-batch losses are summed, not averaged: each backward must be of loss / accum_steps, so that the "
        "accumulated gradient is the gradient of the mean loss, the same as one large batch"
    ),
    "zero_inside": (
        "zero_grad inside the micro-batch loop: each micro-batch wipes the gradients of the ones before it, so only "
        "the last one reaches the step. Zero once, before the loop"
    ),
    "stale": (
        "gradients left from before the call were added to this step's: call optimizer.zero_grad() once at the start "
        "of train_step, before the first backward"
    ),
    "previous_call": (
        "the previous call's gradients were added to this step's: zero the gradients at the start of every "
        "train_step, before the first backward"
    ),
    "targets_are_inputs": (
        "targets not shifted: the model was given x as its own targets, so it learns to copy its input. get_batch's "
        "y is already x shifted by one: call model(x, y)"
    ),
    "targets_rebuilt": (
        "targets rebuilt from x (x[:, 1:] for x[:, :-1]): that drops the last position of every window. get_batch's "
        "y is already x shifted by one, the last target included: call model(x, y)"
    ),
    "not_clipped": (
        "the gradients were not clipped although their norm exceeds max_norm: clip them by their global norm "
        "(torch.nn.utils.clip_grad_norm_) between the last backward and the optimizer's step"
    ),
    "clip_after_step": (
        "clipping after the step: the optimizer was stepped with the unclipped gradients and they were clipped "
        "afterwards, when it no longer matters. Clip between the last backward and optimizer.step()"
    ),
    "per_tensor": (
        "each tensor was clipped on its own: the norm is global, of all gradients together, and one factor scales "
        "them all"
    ),
    "norm_after_clip": (
        "grad_norm measured after clipping: it then reads max_norm whenever clipping happens. Return the norm "
        "measured before clipping (clip_grad_norm_ returns it), the number that shows a spike"
    ),
    "clipped_without_max_norm": (
        "the gradients were clipped although max_norm is None: None means no clipping (grad_norm is still measured)"
    ),
    "loss_last": (
        "the loss returned is the last micro-batch's: return the mean of all accum_steps micro-batch losses"
    ),
    "loss_divided": (
        "the loss returned is divided by accum_steps once too often: report the mean of the micro-batch losses "
        "themselves, not of loss / accum_steps"
    ),
    "loss_sum": "the loss returned is the sum of the micro-batch losses: return their mean",
}


def learner_line(e: BaseException, submission) -> str:
    path = getattr(submission, "__file__", "") or ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" (your line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""


@pytest.fixture(autouse=True)
def one_thread():
    """Every model here is tiny: one thread is the fastest setting and the one a busy CPU slows least;
    both sides of every comparison run on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the watched model, the spy optimizer and the batches ---------------------------------------------
class WatchBackward(torch.autograd.Function):
    """The identity on the logits; its backward notes whether autocast was on while backward ran."""

    @staticmethod
    def forward(ctx, logits, calls):
        ctx.calls = calls
        return logits.view_as(logits)

    @staticmethod
    def backward(ctx, grad):
        ctx.calls.append(dict(kind="backward", cpu=torch.is_autocast_enabled("cpu"), cuda=torch.is_autocast_enabled("cuda")))
        return grad, None


class WatchedGPT(GPT):
    """mentor.lab.GPT that notes, in self.calls, how it is called. Its loss is computed in float32, as
    GPT's is, unless the weights are float64: then in float64, so that float64 comparisons are not
    limited by a float32 cross-entropy."""

    def __init__(self, config):
        super().__init__(config)
        self.calls = []
        self.lm_head.register_forward_hook(self._watch_backward)

    def _watch_backward(self, module, inputs, output):
        return WatchBackward.apply(output, self.calls) if output.requires_grad else output

    def forward(self, idx, targets=None, ignore_index=-100):
        device = idx.device.type
        self.calls.append(dict(
            kind="forward", training=self.training, grad=torch.is_grad_enabled(),
            autocast=torch.is_autocast_enabled(device), dtype=torch.get_autocast_dtype(device),
            cuda_autocast=torch.is_autocast_enabled("cuda"),
            idx=idx.detach().clone(), targets=None if targets is None else targets.detach().clone(),
        ))  # fmt: skip
        logits, _ = super().forward(idx)
        if targets is None:
            return logits, None
        B, T = idx.shape
        logits32 = logits.reshape(B * T, -1).to(torch.promote_types(logits.dtype, torch.float32))  # (B·T, V)
        return logits, F.cross_entropy(logits32, targets.reshape(B * T), ignore_index=ignore_index)

    def zero_grad(self, set_to_none=True):
        self.calls.append(dict(kind="zero_grad"))
        super().zero_grad(set_to_none)


class Spy(torch.optim.Optimizer):
    """Keeps a copy of the gradients at every step; with lr > 0 it is plain SGD, so that steps show."""

    def __init__(self, params, calls, lr=0.0):
        super().__init__(params, dict(lr=lr))
        self.calls = calls

    @torch.no_grad()
    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"]]
        self.calls.append(dict(kind="step", grads=[None if p.grad is None else p.grad.detach().clone() for p in params]))
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and group["lr"]:
                    p.add_(p.grad, alpha=-group["lr"])

    def zero_grad(self, set_to_none=True):
        self.calls.append(dict(kind="zero_grad"))
        super().zero_grad(set_to_none)


class Batches:
    """get_batch(split): the next B windows of a fixed table of token windows for that split, y = x shifted
    by one. Notes every call and keeps a copy of what it handed out, to check later that nothing changed it."""

    def __init__(self, seed, B, T, vocab=TINY["vocab_size"], rows=64, device="cpu"):
        g = torch.Generator().manual_seed(seed)
        self.tables = {s: torch.randint(0, vocab, (rows, T + 1), generator=g).to(device) for s in ("train", "val")}
        self.B, self.served, self.calls, self.given = B, {"train": 0, "val": 0}, [], []

    def window(self, split, i):
        """The i-th batch of `split` as (x, y), the grader's own copy."""
        table = self.tables[split]
        rows = torch.arange(i * self.B, (i + 1) * self.B) % len(table)
        w = table[rows.to(table.device)]
        return w[:, :-1].clone(), w[:, 1:].clone()  # (B, T) each

    def __call__(self, split):
        self.calls.append(split)
        if split not in self.tables:
            raise Misconception("get_batch takes the split 'train' or 'val'", f"get_batch was called with {split!r}")
        x, y = self.window(split, self.served[split])
        self.served[split] += 1
        self.given.append((x, y, x.clone(), y.clone()))
        return x, y

    def untouched(self):
        return all(_equal(x, x0) and _equal(y, y0) for x, y, x0, y0 in self.given)


def make(seed, dtype=torch.float64, dropout=0.0, fields=TINY, device="cpu"):
    """A watched GPT, its weights drawn from `seed` (the same seed: the same weights)."""
    torch.manual_seed(seed)
    return WatchedGPT(GPTConfig(**fields, dropout=dropout)).to(device=device, dtype=dtype)


def flat(grads):
    return torch.cat([g.reshape(-1) for g in grads])


def grads_of(model, windows, scale=1.0, targets=lambda x, y: (x, y)):
    """The gradients of scale · Σ loss(window) on `model`, as a list (the grader's own backward)."""
    model.zero_grad(set_to_none=True)
    for x, y in windows:
        (scale * model(*targets(x, y))[1]).backward()
    return [p.grad.detach().clone() for p in model.parameters()]


def losses_of(model, windows, targets=lambda x, y: (x, y)):
    with torch.no_grad():
        return [float(model(*targets(x, y))[1]) for x, y in windows]


def clipped(grads, max_norm):
    norm = float(_total_norm(grads))
    factor = min(1.0, max_norm / (norm + 1e-6))
    return [g * factor for g in grads]


def per_tensor_clipped(grads, max_norm):
    return [g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]


def rebuilt(x, y):
    return x[:, :-1], x[:, 1:]


def same_vector(a, b, tol):
    return a.shape == b.shape and bool(_allclose(a, b, **tol))


def first_match(got, candidates, tol):
    """The message of the first (message, value) candidate that `got` equals within `tol`, or None."""
    return next((why for why, value in candidates if value is not None and same_vector(got, value, tol)), None)


# -- running the learner's train_step ------------------------------------------------------------------
def step_records(calls):
    return [c for c in calls if c["kind"] == "step"]


def run_step(submission, model, optimizer, batches, accum_steps, steps_expected=1, **kwargs):
    """The learner's train_step, once, with the checks every call shares; returns its dict."""
    before, start = len(step_records(model.calls)), len(model.calls)
    try:
        out = submission.train_step(model, optimizer, batches, accum_steps, **kwargs)
    except NotImplementedError:
        raise
    except Misconception:
        raise
    except Exception as e:  # noqa: BLE001 - a crash reads as what it is, with the learner's line
        raise Misconception(
            f"train_step raised {type(e).__name__}",
            f"{type(e).__name__}: {e}{learner_line(e, submission)}; accum_steps={accum_steps}, batches of "
            f"{tuple(batches.window('train', 0)[0].shape)}, {', '.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'}",
        ) from None
    expect(
        isinstance(out, dict) and {"loss", "grad_norm"} <= set(out),
        'train_step returns a dict with "loss" and "grad_norm"',
        f"got {type(out).__name__}: {str(out)[:80]}",
    )
    for key in ("loss", "grad_norm"):
        expect(
            type(out[key]) is float,
            f'train_step returns "{key}" as a Python float (float(tensor) or tensor.item()): a tensor kept in a log '
            "holds its device memory, and one that requires grad its whole graph",
            f"{key}: {type(out[key]).__name__}",
        )
    expect(
        batches.calls == ["train"] * accum_steps,
        "train_step draws exactly accum_steps micro-batches, each with get_batch('train')",
        f"accum_steps={accum_steps}; get_batch was called with {batches.calls}",
    )
    expect(
        batches.untouched(),
        "train_step changed a batch get_batch returned: x and y belong to the caller (the sampler may hand out "
        "views of its data); build new tensors rather than writing into them",
    )
    passes = [c["kind"] for c in model.calls[start:] if c["kind"] in ("forward", "backward")]
    expect(
        passes == ["forward", "backward"] * (len(passes) // 2),
        "one backward at the end for all micro-batches: every micro-batch's graph (its activations) stays alive until "
        "then, so the step needs the memory of the large batch, which accumulation exists to avoid. Call backward "
        "on each micro-batch's loss / accum_steps before the next forward",
        f"the passes in order: {', '.join(passes[:8])}{' ...' if len(passes) > 8 else ''}",
    )
    steps = len(step_records(model.calls)) - before
    expect(
        steps_expected is None or steps == steps_expected,
        "train_step makes exactly one optimizer step per call, after all micro-batches: optimizer.step(), or "
        "scaler.step(optimizer) with a scaler",
        f"the optimizer was stepped {steps} times in one call with accum_steps={accum_steps}",
    )
    batches.calls.clear()
    return out


def spied(seed=1, dtype=torch.float64, dropout=0.0, fields=TINY, lr=0.0, device="cpu"):
    model = make(seed, dtype, dropout, fields, device)
    return model, Spy(model.parameters(), model.calls, lr=lr)


def stepped_with(model):
    """The gradients the optimizer saw at the last step, as one vector."""
    grads = step_records(model.calls)[-1]["grads"]
    expect(
        all(g is not None for g in grads),
        "the optimizer was stepped while some parameter had no gradient: zero_grad(set_to_none=True) after the "
        "backward passes, or before the step, throws them away",
        f"{sum(g is None for g in grads)} of {len(grads)} parameters had grad None at the step",
    )
    return flat(grads)


def accumulation_candidates(twin, windows, accum, stale=None, previous=None, max_norm=None):
    """(message, gradient vector) for each classic mistake, worked out on the twin model."""
    micro = [grads_of(twin, [w], 1.0 / accum) for w in windows]
    mean = [sum(gs) for gs in zip(*micro)]
    sizes = [g.numel() for g in mean]
    out = [
        (MISTAKES["summed"], flat(mean) * accum),
        (MISTAKES["zero_inside"], flat(micro[-1])),
        (MISTAKES["zero_inside"], flat(micro[-1]) * accum),
        (MISTAKES["targets_are_inputs"], flat(grads_of(twin, windows, 1.0 / accum, lambda x, y: (x, x)))),
        (MISTAKES["targets_rebuilt"], flat(grads_of(twin, windows, 1.0 / accum, rebuilt))),
    ]
    if stale is not None:
        out.append((MISTAKES["stale"], flat(mean) + flat(stale)))
    if previous is not None:
        out.append((MISTAKES["previous_call"], flat(mean) + previous))
    if max_norm is not None:  # each mistake again, clipped as a correct clip would clip it
        out = [(why, flat(clipped(list(v.split(sizes)), max_norm))) for why, v in out]
        out += [(MISTAKES["not_clipped"], flat(mean)), (MISTAKES["per_tensor"], flat(per_tensor_clipped(mean, max_norm)))]
    return out


def mean_gradient(twin, windows, accum):
    return [sum(gs) for gs in zip(*[grads_of(twin, [w], 1.0 / accum) for w in windows])]


# -- accumulation -----------------------------------------------------------------------------------------
def test_accumulation_equals_one_large_batch(submission):
    """4 micro-batches of 2 sequences give the gradients of one batch of 8, in float64 and float32"""
    for dtype, tol in ((torch.float64, TOL64), (torch.float32, TOL32)):
        model, opt = spied(1, dtype)
        batches = Batches(seed=2, B=2, T=16)
        run_step(submission, model, opt, batches, 4)
        got = stepped_with(model)
        windows = [batches.window("train", i) for i in range(4)]
        twin = make(1, dtype)
        big = (torch.cat([x for x, _ in windows]), torch.cat([y for _, y in windows]))  # (8, 16) each
        want = flat(grads_of(twin, [big]))
        why = None if same_vector(got, want, tol) else first_match(got, accumulation_candidates(twin, windows, 4), tol)
        expect_close(
            got, want,
            why or f"with accum_steps=4 of 2 sequences the gradients differ from one batch of 8 ({dtype}): each "
            "micro-batch's backward of loss / accum_steps, the gradients adding up in p.grad between them",
            **tol,
        )  # fmt: skip


def test_returned_loss_is_the_mean_of_the_micro_batches(submission):
    """"loss" is the mean of the accum_steps micro-batch losses, each as the model computed it"""
    model, opt = spied(3)
    batches = Batches(seed=4, B=2, T=12)
    out = run_step(submission, model, opt, batches, 3)
    windows = [batches.window("train", i) for i in range(3)]
    twin = make(3)
    losses = losses_of(twin, windows)
    want = sum(losses) / 3
    candidates = [
        (MISTAKES["targets_are_inputs"], sum(losses_of(twin, windows, lambda x, y: (x, x))) / 3),
        (MISTAKES["targets_rebuilt"], sum(losses_of(twin, windows, rebuilt)) / 3),
        (MISTAKES["loss_last"], losses[-1]),
        (MISTAKES["loss_divided"], want / 3),
        (MISTAKES["loss_divided"], losses[-1] / 3),
        (MISTAKES["loss_sum"], sum(losses)),
    ]
    got = out["loss"]
    why = None
    if not math.isclose(got, want, rel_tol=1e-9):
        why = next((w for w, v in candidates if math.isclose(got, v, rel_tol=1e-9)), None)
    expect_close(got, want, why or "the loss returned is not the mean of the micro-batch losses", rtol=1e-9, atol=0)


def test_targets_are_get_batchs_y(submission):
    """the model is called with get_batch's x and y as they are: y is already x shifted by one"""
    model, opt = spied(5)
    batches = Batches(seed=6, B=2, T=10)
    run_step(submission, model, opt, batches, 2)
    windows = [batches.window("train", i) for i in range(2)]
    forwards = [c for c in model.calls if c["kind"] == "forward"]
    T = windows[0][0].shape[1]
    for c in forwards:
        if c["targets"] is None:
            continue  # the loss computed outside the model: its value is checked below
        t, idx = c["targets"], c["idx"]
        expect(
            not (t.shape == idx.shape and _equal(t, idx)), MISTAKES["targets_are_inputs"],
            f"targets {t[0, :6].tolist()}..., inputs {idx[0, :6].tolist()}...",
        )  # fmt: skip
        expect(
            idx.shape[-1] == T, MISTAKES["targets_rebuilt"],
            f"the model was given {idx.shape[-1]} positions of the {T} in each window",
        )  # fmt: skip
    got = stepped_with(model)
    twin = make(5)
    want = flat(mean_gradient(twin, windows, 2))
    why = None if same_vector(got, want, TOL64) else first_match(got, accumulation_candidates(twin, windows, 2), TOL64)
    expect_close(got, want, why or "the gradients are not those of model(x, y) on get_batch's batches", **TOL64)


# -- zero_grad --------------------------------------------------------------------------------------------
def test_gradients_are_zeroed_once_before_the_micro_batches(submission):
    """gradients from before the call do not count, nor do the previous call's: one zero_grad, first"""
    model, opt = spied(7)
    g = torch.Generator().manual_seed(8)
    stale = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in model.parameters()]
    for p, s in zip(model.parameters(), stale):
        p.grad = s.clone()  # as a forgotten backward (an evaluation with autograd on) would leave them
    batches = Batches(seed=9, B=2, T=8)
    twin = make(7)
    previous = None
    for call in range(2):
        start = len(model.calls)
        run_step(submission, model, opt, batches, 3)
        windows = [batches.window("train", 3 * call + i) for i in range(3)]
        got = stepped_with(model)
        want = flat(mean_gradient(twin, windows, 3))
        if not same_vector(got, want, TOL64):
            kinds = [c["kind"] for c in model.calls[start:]]
            first_forward = kinds.index("forward") if "forward" in kinds else len(kinds)
            last_step = len(kinds) - 1 - kinds[::-1].index("step")
            if "zero_grad" in kinds[first_forward + 1 : last_step]:
                why = MISTAKES["zero_inside"]
            else:
                why = first_match(got, accumulation_candidates(
                    twin, windows, 3, stale=stale if call == 0 else None, previous=previous if call else None), TOL64)
        else:
            why = None
        expect_close(
            got, want,
            why or f"call {call + 1}: the gradients at the step are not this call's micro-batches' alone",
            **TOL64,
        )  # fmt: skip
        previous = want


# -- clipping and the norm -----------------------------------------------------------------------------------
def norm_and_windows(seed, batch_seed, accum, B=2, T=12):
    twin = make(seed)
    batches = Batches(seed=batch_seed, B=B, T=T)
    windows = [batches.window("train", i) for i in range(accum)]
    mean = mean_gradient(twin, windows, accum)
    return twin, windows, mean, float(_total_norm(mean))


def test_clipping_comes_before_the_step(submission):
    """with max_norm below the gradients' norm, the optimizer is stepped with the clipped gradients"""
    twin, windows, mean, norm = norm_and_windows(10, 11, 2)
    max_norm = norm / 4  # clipping by 4x: no correct rounding comes near
    model, opt = spied(10)
    run_step(submission, model, opt, Batches(seed=11, B=2, T=12), 2, max_norm=max_norm)
    got = stepped_with(model)
    want = flat(clipped(mean, max_norm))
    why = None
    if not same_vector(got, want, TOL64):
        final = [p.grad for p in model.parameters()]
        after = flat(final) if all(g is not None for g in final) else None
        if same_vector(got, flat(mean), TOL64) and after is not None and same_vector(after, want, TOL64):
            why = MISTAKES["clip_after_step"]
        else:
            why = first_match(got, accumulation_candidates(twin, windows, 2, max_norm=max_norm), TOL64)
    expect_close(
        got, want,
        why or f"with max_norm = {max_norm:.4g} (the gradients' norm is {norm:.4g}) the optimizer did not see the "
        "gradients clipped by their global norm",
        **TOL64,
    )  # fmt: skip


def test_grad_norm_is_measured_before_clipping(submission):
    """grad_norm is the global norm before clipping, with max_norm and without; max_norm=None clips nothing"""
    twin, windows, mean, norm = norm_and_windows(12, 13, 2)
    for max_norm in (norm / 5, None, norm * 3):
        model, opt = spied(12)
        out = run_step(submission, model, opt, Batches(seed=13, B=2, T=12), 2, max_norm=max_norm)
        got = out["grad_norm"]
        why = "grad_norm is the global norm of all gradients together, measured before clipping"
        if max_norm is not None and math.isclose(got, max_norm, rel_tol=1e-4):
            why = MISTAKES["norm_after_clip"]
        expect_close(got, norm, f"{why} (max_norm={max_norm if max_norm is None else f'{max_norm:.4g}'})", rtol=1e-9, atol=0)
        if max_norm is None or max_norm > norm:
            stepped = stepped_with(model)
            expect(
                same_vector(stepped, flat(mean), TOL64),
                MISTAKES["clipped_without_max_norm"] if max_norm is None else (
                    f"the gradients were scaled although their norm {norm:.4g} is below max_norm = {max_norm:.4g}"),
                f"the step saw gradients of norm {float(stepped.norm()):.6g}, the micro-batches give {norm:.6g}",
            )  # fmt: skip


# -- a trajectory with AdamW --------------------------------------------------------------------------------
def adamw_run(module, steps=4, submission=None):
    """`steps` calls of module.train_step with torch.optim.AdamW on a GPT with dropout 0.1, from fixed seeds."""
    model = make(14, dropout=0.1)
    opt = AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    batches = Batches(seed=15, B=2, T=16)
    torch.manual_seed(16)  # the dropout masks
    outs = []
    for _ in range(steps):
        if submission is None:
            outs.append(module.train_step(model, opt, batches, 2, max_norm=0.5))
        else:
            outs.append(run_step(submission, model, opt, batches, 2, steps_expected=None, max_norm=0.5))
        batches.calls.clear()
    return outs, flat([p.detach() for p in model.parameters()])


def test_steps_follow_the_reference_with_adamw(submission, reference):
    """four steps with AdamW, dropout 0.1, accumulation and clipping follow the reference at the same seed"""
    want, want_params = adamw_run(reference)
    got, got_params = adamw_run(submission, submission=submission)
    for k, (g, w) in enumerate(zip(got, want)):
        for key in ("loss", "grad_norm"):
            expect_close(
                g[key], w[key],
                f"step {k + 1} of a run with torch.optim.AdamW: {key} differs from the reference's at the same seed "
                "(the same batches and dropout masks): earlier steps updated the model differently",
                rtol=1e-7, atol=0,
            )  # fmt: skip
    expect_close(
        got_params, want_params,
        "after four steps with torch.optim.AdamW the parameters differ from the reference's at the same seed",
        rtol=1e-6, atol=1e-9,
    )  # fmt: skip


# -- mixed precision ----------------------------------------------------------------------------------------
def expect_forwards_under(model, dtype, where):
    forwards = [c for c in model.calls if c["kind"] == "forward"]
    backwards = [c for c in model.calls if c["kind"] == "backward"]
    for c in forwards:
        if dtype is None:
            expect(
                not c["autocast"],
                "autocast was on although autocast_dtype is None: without a dtype the step runs in the model's own",
                where,
            )
            continue
        if not c["autocast"] and c["cuda_autocast"]:
            raise Misconception(
                "autocast was opened for 'cuda' while the batch is on the CPU: autocast for 'cuda' does nothing to CPU "
                "tensors. Take the device type from the data, torch.autocast(x.device.type, dtype=autocast_dtype)",
                where,
            )
        expect(
            c["autocast"],
            "autocast_dtype was not used: the forward must run under torch.autocast(x.device.type, "
            "dtype=autocast_dtype), for the device the data are on (autocast for 'cuda' does nothing to CPU tensors)",
            f"{where}: a forward ran without autocast",
        )
        expect(
            c["dtype"] == dtype,
            f"the forward ran under autocast with {c['dtype']}, not the autocast_dtype passed ({dtype})",
            where,
        )
    expect(
        not any(c["cpu"] or c["cuda"] for c in backwards),
        "autocast around backward: the backward ran inside the autocast block. Close it after the forward and the "
        "loss; backward runs each operation in the dtype its forward chose, by itself",
        where,
    )


def test_bf16_autocast_wraps_the_forward_only(submission, reference):
    """with autocast_dtype=torch.bfloat16 each forward runs under CPU autocast, each backward outside it"""
    ref_model, ref_opt = spied(17, torch.float32)
    reference.train_step(ref_model, ref_opt, Batches(seed=18, B=2, T=16), 2, autocast_dtype=torch.bfloat16)
    want = flat(step_records(ref_model.calls)[-1]["grads"])
    model, opt = spied(17, torch.float32)
    run_step(submission, model, opt, Batches(seed=18, B=2, T=16), 2, autocast_dtype=torch.bfloat16)
    expect_forwards_under(model, torch.bfloat16, "train_step(..., autocast_dtype=torch.bfloat16) on the CPU")
    expect_close(
        stepped_with(model), want,
        "under bfloat16 autocast the gradients differ from the reference's: autocast around model(x, y), the "
        "division by accum_steps and backward as without it",
        **TOL_BF16,
    )  # fmt: skip
    model, opt = spied(17, torch.float32)
    run_step(submission, model, opt, Batches(seed=18, B=2, T=16), 2)
    expect_forwards_under(model, None, "train_step(...) with autocast_dtype=None")


def scaled_run(module, init_scale, max_norm, submission=None, enabled=True):
    model, opt = spied(19, torch.float32)
    scaler = GradScaler("cpu", init_scale=init_scale, growth_interval=1, enabled=enabled)
    batches = Batches(seed=20, B=2, T=16)
    if submission is None:
        out = module.train_step(model, opt, batches, 2, max_norm=max_norm, scaler=scaler)
    else:
        out = run_step(submission, model, opt, batches, 2, steps_expected=None, max_norm=max_norm, scaler=scaler)
    steps = step_records(model.calls)
    return out, (flat(steps[-1]["grads"]) if steps else None), len(steps), scaler, model


def test_grad_scaler_unscales_before_clipping(submission, reference):
    """with a real GradScaler (CPU, float32): scale, unscale_ before measuring and clipping, step, update; on a
    CUDA machine also float16 autocast on 'cuda' with its GradScaler"""
    twin, windows, mean, norm = norm_and_windows(19, 20, 2, T=16)
    max_norm, scale = norm / 4, 2.0**10
    want_out, want, _, want_scaler, _ = scaled_run(reference, scale, max_norm)
    out, got, steps, scaler, _ = scaled_run(reference, scale, max_norm, submission=submission)
    expect(
        steps == 1,
        "with a scaler the step is scaler.step(optimizer), once: it unscales if you have not, checks for inf and "
        "nan, and calls optimizer.step()",
        f"the optimizer was stepped {steps} times",
    )
    if math.isclose(out["grad_norm"], scale * norm, rel_tol=1e-3):
        raise Misconception(
            "scaler.step without unscale_ before clipping: the gradients were measured and clipped while still "
            f"multiplied by the loss scale ({scale:g}), so clipping cut them to max_norm / scale. Call "
            "scaler.unscale_(optimizer) after the last backward, before clipping",
            f"grad_norm {out['grad_norm']:.6g} = {scale:g} x the true norm {norm:.6g}",
        )
    if math.isclose(out["grad_norm"], norm / scale, rel_tol=1e-3):
        raise Misconception(
            "the loss was not multiplied by scaler.scale(...) before backward: unscale_ then divided true gradients "
            "by the scale. Backward of scaler.scale(loss / accum_steps)",
            f"grad_norm {out['grad_norm']:.6g} = the true norm {norm:.6g} / {scale:g}",
        )
    expect_close(out["grad_norm"], want_out["grad_norm"], "with a GradScaler, grad_norm is the norm of the unscaled gradients before clipping", rtol=1e-5, atol=0)
    expect_close(got, want, "with a GradScaler the optimizer must see the unscaled, clipped gradients", rtol=1e-5, atol=1e-7)
    expect_equal(
        scaler.get_scale(), want_scaler.get_scale(),
        "scaler.update() was not called after scaler.step(optimizer): the loss scale never adapts (it should grow "
        "after good steps and shrink after an overflow)",
    )
    plain, plain_grads, _, _, _ = scaled_run(reference, scale, max_norm, submission=submission, enabled=False)
    expect_close(
        plain_grads, want,
        "with GradScaler(enabled=False), a no-op scaler, the step must be the one without a scaler",
        rtol=1e-5, atol=1e-7,
    )  # fmt: skip
    if torch.cuda.is_available():  # float16 needs the GPU; a CPU-only machine checks the path above
        cuda_float16_step(submission, reference)


def test_grad_scaler_skips_an_overflowing_step(submission, reference):
    """when the scaled gradients overflow, the step is skipped and the scale halved (scaler.step, scaler.update)"""
    _, _, want_steps, want_scaler, _ = scaled_run(reference, 2.0**127, 1.0)
    expect(want_steps == 0, "grader self-check: a scale of 2^127 must overflow, a course bug: please report it")
    out, _, steps, scaler, model = scaled_run(reference, 2.0**127, 1.0, submission=submission)
    expect(
        steps == 0,
        "stepped the optimizer with overflowed gradients: scaler.step(optimizer) skips the step when the scaled "
        "gradients hold inf or nan; optimizer.step() steps anyway and writes inf into the weights",
        f"a loss scale of 2^127 overflowed the gradients, and the optimizer was stepped {steps} times",
    )
    expect_equal(
        scaler.get_scale(), want_scaler.get_scale(),
        "scaler.update() was not called after scaler.step(optimizer): after an overflow the scale must shrink",
    )


def cuda_float16_step(submission, reference):
    """On CUDA: float16 autocast on 'cuda' and a GradScaler give the reference's step."""
    runs = []
    for module in (reference, submission):
        model, opt = spied(21, torch.float32, device="cuda")
        scaler = GradScaler("cuda", init_scale=2.0**12, growth_interval=1)
        batches = Batches(seed=22, B=2, T=16, device="cuda")
        if module is reference:
            out = module.train_step(model, opt, batches, 2, max_norm=0.5, scaler=scaler, autocast_dtype=torch.float16)
        else:
            out = run_step(submission, model, opt, batches, 2, max_norm=0.5, scaler=scaler, autocast_dtype=torch.float16)
            expect_forwards_under(model, torch.float16, "train_step(..., autocast_dtype=torch.float16) on CUDA")
        runs.append((out, flat(step_records(model.calls)[-1]["grads"]).cpu(), scaler.get_scale()))
    (want_out, want, want_scale), (out, got, scale) = runs
    # float16 on the GPU: attention's backward may add in any order; 1e-2 relative keeps every correct step
    expect_close(got, want, "on CUDA with float16 autocast and a GradScaler the step's gradients differ from the reference's", rtol=1e-2, atol=1e-4)
    expect_close(out["grad_norm"], want_out["grad_norm"], "on CUDA, grad_norm is the norm of the unscaled gradients", rtol=1e-2, atol=0)
    expect_equal(scale, want_scale, "on CUDA, scaler.update() must follow scaler.step(optimizer)")


# -- sizes and speed -------------------------------------------------------------------------------------
def test_edge_sizes_and_another_model(submission):
    """B = 1, T = 1 and accum_steps = 1, an odd accumulation, and a second, differently sized model"""
    cases = [  # (B, T, accum, model fields)
        (1, 1, 1, TINY),
        (3, 5, 5, TINY),
        (2, 24, 2, dict(vocab_size=40, block_size=24, d_model=16, n_layers=1, n_heads=4)),
    ]
    for B, T, accum, fields in cases:
        model, opt = spied(23, fields=fields)
        batches = Batches(seed=24, B=B, T=T, vocab=fields["vocab_size"])
        run_step(submission, model, opt, batches, accum)
        windows = [batches.window("train", i) for i in range(accum)]
        twin = make(23, fields=fields)
        got, want = stepped_with(model), flat(mean_gradient(twin, windows, accum))
        why = None if same_vector(got, want, TOL64) else first_match(got, accumulation_candidates(twin, windows, accum), TOL64)
        expect_close(got, want, why or f"with B={B}, T={T}, accum_steps={accum} the gradients differ from the mean over the micro-batches", **TOL64)


PROPERTY = settings(
    max_examples=12, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failing example is reported at once
)  # fmt: skip


def test_accumulation_over_generated_sizes(submission):
    """for generated B, T, accum_steps and weights, the step's gradients are the mean over its micro-batches"""

    @PROPERTY
    @given(st.integers(1, 3), st.integers(1, 16), st.integers(1, 4), st.integers(0, 2**16))
    def accumulation(B, T, accum, seed):
        model, opt = spied(seed)
        batches = Batches(seed=seed + 1, B=B, T=T)
        run_step(submission, model, opt, batches, accum)
        windows = [batches.window("train", i) for i in range(accum)]
        twin = make(seed)
        got, want = stepped_with(model), flat(mean_gradient(twin, windows, accum))
        if not same_vector(got, want, TOL64):
            why = first_match(got, accumulation_candidates(twin, windows, accum), TOL64)
            raise Misconception(
                why or "the step's gradients are not the mean over its micro-batches",
                f"B={B}, T={T}, accum_steps={accum}, weights from seed {seed}: largest difference "
                f"{float((got - want).abs().max()):.3g}",
            )
        expect_close(got, want, "the step's gradients are not the mean over its micro-batches", **TOL64)

    accumulation()


def test_train_step_throughput(submission, reference, budget):
    """tokens per second of train_step within the budget of the reference's, on the same model and batches"""
    sides = []
    for _ in range(2):
        model = make(25, torch.float32, fields=TIMED)
        opt = AdamW(model.parameters(), lr=1e-3)
        sides.append((model, opt, Batches(seed=26, B=8, T=32, vocab=TIMED["vocab_size"])))

    def stepper(module, side):
        model, opt, batches = side

        def step():
            module.train_step(model, opt, batches, 2, max_norm=1.0)
            model.calls.clear()
            batches.calls.clear()
            batches.given.clear()

        return step

    budget.throughput(
        stepper(submission, sides[0]), stepper(reference, sides[1]), units=2 * 8 * 32,
        why="train_step processes fewer tokens per second than the reference: run each micro-batch as one batched "
        "forward and backward (a loop over the sequences of a batch, or work repeated per parameter, costs a "
        "multiple)",
    )  # fmt: skip


# -- evaluate -------------------------------------------------------------------------------------------------
def run_evaluate(submission, model, batches, iters):
    try:
        value = submission.evaluate(model, batches, iters)
    except NotImplementedError:
        raise
    except Misconception:
        raise
    except Exception as e:  # noqa: BLE001
        raise Misconception(f"evaluate raised {type(e).__name__}", f"{type(e).__name__}: {e}{learner_line(e, submission)}") from None
    expect(
        type(value) is float,
        "evaluate returns the mean loss as a Python float",
        f"got {type(value).__name__}" + (" that requires grad" if getattr(value, "requires_grad", False) else ""),
    )
    return value


def test_evaluate_is_the_mean_validation_loss_in_eval_mode(submission):
    """the mean loss of `iters` val batches, with dropout off (eval mode), on a model with dropout 0.3"""
    iters = 3
    model = make(27, dropout=0.3)
    batches = Batches(seed=28, B=2, T=16)
    torch.manual_seed(29)
    got = run_evaluate(submission, model, batches, iters)
    val = [batches.window("val", i) for i in range(iters)]
    expect(
        "train" not in batches.calls,
        "evaluate drew training batches: the validation loss is measured on get_batch('val'), data the model is "
        "not trained on",
        f"get_batch was called with {batches.calls}",
    )
    expect(
        batches.calls == ["val"] * iters,
        "evaluate averages exactly `iters` batches of get_batch('val')",
        f"iters={iters}; get_batch was called with {batches.calls}",
    )
    forwards = [c for c in model.calls if c["kind"] == "forward"]
    expect(forwards, "evaluate must run the model, model(x, y), on each val batch", "the model was never called")
    expect(
        all(not c["training"] for c in forwards),
        "eval left in train mode: dropout stayed on, so the loss measures one random mask, not the model. Call "
        "model.eval() before the forwards",
        f"{sum(c['training'] for c in forwards)} of {len(forwards)} forwards ran in train mode",
    )
    twin = make(27, dropout=0.3).eval()
    losses = losses_of(twin, val)
    want = sum(losses) / iters
    why = "evaluate returns the mean of the val batches' losses in eval mode"
    if math.isclose(got, sum(losses), rel_tol=1e-9):
        why = "evaluate returns the sum of the losses: divide by iters"
    expect_close(got, want, why, rtol=1e-9, atol=0)


def test_evaluate_records_no_graph(submission):
    """the forwards of evaluate run with autograd off (torch.no_grad or torch.inference_mode)"""
    model = make(30, dropout=0.1)
    run_evaluate(submission, model, Batches(seed=31, B=2, T=8), 2)
    forwards = [c for c in model.calls if c["kind"] == "forward"]
    expect(
        forwards and not any(c["grad"] for c in forwards),
        "eval with gradients on: every forward of evaluate recorded an autograd graph it never uses, activations "
        "kept alive for a backward that never comes. Run it under torch.no_grad()",
        f"{sum(c['grad'] for c in forwards)} of {len(forwards)} forwards ran with autograd enabled",
    )


def test_evaluate_restores_the_mode_it_found(submission):
    """a model that came in train mode leaves in train mode; one that came in eval mode stays in eval mode"""
    for start in (True, False):
        model = make(32, dropout=0.1).train(start)
        run_evaluate(submission, model, Batches(seed=33, B=2, T=8), 2)
        modes = {m.training for m in model.modules()}
        if start:
            expect(
                modes == {True},
                "evaluate leaves the model in eval mode: the training that follows runs without dropout. Restore the "
                "mode it came in with model.train(was_training)",
                f"after evaluate, model.training = {model.training}",
            )
        else:
            expect(
                modes == {False},
                "evaluate switched a model that came in eval mode to train mode: remember model.training first and "
                "restore that mode, not always train",
                f"after evaluate, model.training = {model.training}",
            )


def test_evaluate_leaves_parameters_and_gradients_alone(submission):
    """evaluate changes no parameter and no gradient (there may be gradients of a step in progress)"""
    model = make(34)
    g = torch.Generator().manual_seed(35)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
    params = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad.clone() for p in model.parameters()]
    run_evaluate(submission, model, Batches(seed=36, B=2, T=8), 2)
    expect(all(_equal(p.detach(), q) for p, q in zip(model.parameters(), params)), "evaluate changed the model's parameters")
    expect(
        all(p.grad is not None and _equal(p.grad, g) for p, g in zip(model.parameters(), grads)),
        "evaluate changed the gradients: it runs no backward and no zero_grad",
    )


# -- log_line -----------------------------------------------------------------------------------------------
ROWS = [
    dict(step=10, tokens=5120, train_loss=3.218750001, val_loss=None, lr=0.0003, grad_norm=0.8125, tokens_per_s=2104.5),
    dict(step=20, tokens=10240, train_loss=2.9, val_loss=3.05, lr=0.00029, grad_norm=1.25e-3, tokens_per_s=1998.25),
    dict(step=30, tokens=15360, train_loss=2.7, val_loss=None, lr=0.00027, grad_norm=0.5, tokens_per_s=2011.0),
]


def write_rows(submission, path, rows):
    for row in rows:
        try:
            submission.log_line(path, **row)
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001
            raise Misconception(f"log_line raised {type(e).__name__}", f"{type(e).__name__}: {e}{learner_line(e, submission)}") from None


def parsed_lines(text, rows):
    """The file's lines as JSON values; a Misconception naming the format when they are not one object each."""
    if text and not text.endswith("\n"):
        lines = text.split("\n")
        raise Misconception(
            "log_line must end every line with a newline: without it the next call continues the same line and the "
            "file is no longer one JSON object per line",
            f"the file holds {len(lines)} line(s), the last without a newline: {lines[-1][:120]!r}",
        )
    lines = text.split("\n")[:-1]
    if len(lines) > len(rows):
        raise Misconception(
            "log_line writes each record on ONE line (json.dumps without indent): a JSON-lines file is read line by "
            "line, one object each",
            f"{len(rows)} calls wrote {len(lines)} lines, the first {lines[0][:60]!r}",
        )
    values = []
    for line in lines:
        try:
            values.append(_loads(line))
        except ValueError:
            raise Misconception("every line log_line writes is one JSON object (json.dumps)", f"line {line[:120]!r}") from None
    return values


def test_log_line_appends_one_json_object_per_line(submission, tmp_path):
    """three calls give three lines, each a JSON object with exactly the fields passed"""
    path = tmp_path / "train.jsonl"
    write_rows(submission, path, ROWS)
    expect(path.is_file(), "log_line must create the file when it does not exist", f"no file at {path.name}")
    values = parsed_lines(path.read_text(encoding="utf-8"), ROWS)
    if values == ROWS[-1:]:
        raise Misconception(
            "log that overwrites instead of appending: each call replaced the file, so only the last line is left. "
            "Open it with mode 'a'",
            f"after {len(ROWS)} calls the file holds 1 line",
        )
    expect_equal(values, ROWS, "the file must hold one JSON object per call, in order, with exactly the fields passed")


def test_log_line_keeps_what_the_file_held(submission, tmp_path):
    """an existing log keeps its lines (a resumed run appends to it); the path may be a str or a Path"""
    path = tmp_path / "log.jsonl"
    earlier = '{"step": 0, "tokens": 0, "train_loss": 4.1}\n'
    path.write_text(earlier, encoding="utf-8")
    write_rows(submission, str(path), ROWS[:1])
    write_rows(submission, Path(path), ROWS[1:2])
    text = path.read_text(encoding="utf-8")
    if not text.startswith(earlier):
        raise Misconception(
            "log that overwrites instead of appending: the lines already in the file were lost. Open it with mode "
            "'a': a resumed run must add to its log",
            f"the file now starts {text[:80]!r}",
        )
    values = parsed_lines(text[len(earlier) :], ROWS[:2])
    expect_equal(values, ROWS[:2], "after the existing lines come one JSON object per call, with the fields passed")
