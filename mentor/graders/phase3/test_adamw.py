"""Grader: AdamW written from scratch against torch.optim.AdamW, and the parameter groups it decays.

The expected trajectories come from torch.optim.AdamW(foreach=False), run before the learner's
optimizer on the same parameters and gradients. When a trajectory differs, the grader replays the
run with the classic mistakes written out (no bias correction, L2 decay, eps inside the square root,
...) and names the one that reproduces the learner's numbers.
"""

import io
import math
import time
import traceback

import torch
import torch.nn as nn

from mentor.grading.expect import Misconception, expect, expect_close

# Bound before any learner code runs: the expected values never go through a patched name.
TorchAdamW, TorchAdam = torch.optim.AdamW, torch.optim.Adam
_equal, _isfinite = torch.equal, torch.isfinite
_cpu_seconds = time.thread_time  # CPU time of this thread: a busy machine that deschedules us does not count

# float64: an AdamW that does torch's arithmetic in another order (lerp or beta·m + (1-beta)·g, sqrt(v̂) or
# sqrt(v)/sqrt(1-beta2^t)) stays within ~6e-15 of torch after 1000 steps (measured); every mistake below
# moves some parameter by 1e-6 or more within 3 steps.
RTOL64, ATOL64 = 1e-9, 1e-12
# float32: rounding of ~6e-8 per operation adds up over 1000 steps (measured: 1.6e-5 relative for an update
# written formula by formula with new tensors for m̂ and v̂); the finest mistake here, decaying after the
# update, is 0.5 relative away by then, and 1e-3 after 10 steps.
RTOL32, ATOL32 = 1e-4, 1e-5

SHAPES = ((), (1,), (3, 4, 5), (6, 2))  # a scalar, a (1,) tensor, a 3-D tensor and a matrix
GRAD_SCALES = (1.0, 1e-3, 10.0, 0.1)  # gradients four orders of magnitude apart: Adam's steps hardly care
DEFAULTS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)  # the signature's, and torch's
LONG = dict(lr=3e-2, betas=(0.85, 0.98), eps=1e-7, weight_decay=0.2)  # other values, lr·wd large enough to see
RECORD = (1, 2, 3, 10, 100, 300, 1000)  # steps after which the trajectories are compared
# A run may take 10x torch's CPU time (and at least 2 s) before it is stopped: far above the ~2x of a correct
# update with extra temporaries, far below the ~50x of an element loop, which would run into the timeout.
SLOW_FACTOR, SLOW_FLOOR_S = 10, 2.0

MISTAKES = {
    "no_bias_correction": (
        "no bias correction: m and v start at 0, so after t steps they are too small by the factors 1 - beta1^t "
        "and 1 - beta2^t. Divide by them (m̂ = m / (1 - beta1^t), v̂ = v / (1 - beta2^t), t counted from 1): "
        "without it the first update is lr·(1 - beta1)/sqrt(1 - beta2), 3.16·lr with the default betas, not lr"
    ),
    "no_bc1": "the first moment is not bias-corrected: use m̂ = m / (1 - beta1^t) in the update, not m",
    "no_bc2": (
        "the second moment is not bias-corrected: sqrt of v without correction is too small early on; the "
        "denominator is sqrt(v̂) + eps with v̂ = v / (1 - beta2^t)"
    ),
    "step_plus_one": (
        "the bias correction uses the wrong step: the first update has t = 1 (1 - beta1^1 = 1 - beta1), yours "
        "used t = 2. Count the step once, before using it, starting from 0"
    ),
    "l2": (
        "weight decay is added to the gradient (L2 regularisation, as in torch.optim.Adam's weight_decay) instead "
        "of being decoupled: AdamW shrinks the parameter itself, p -= lr·weight_decay·p, and leaves the gradient "
        "that feeds m and v alone; through m / sqrt(v) an L2 term is rescaled like any gradient"
    ),
    "decay_after": (
        "weight decay applied after the Adam update: AdamW decays the parameter as it was before this step, "
        "p *= 1 - lr·weight_decay, then takes the Adam step (decaying the updated value differs by lr²·wd·update)"
    ),
    "decay_without_lr": (
        "the decay multiplies p by 1 - weight_decay, without the lr: the shrink per step is lr·weight_decay, so "
        "p *= 1 - lr·weight_decay"
    ),
    "no_decay": "weight decay is ignored: with weight_decay > 0 each step multiplies p by 1 - lr·weight_decay",
    "eps_inside": (
        "eps is added inside the square root: the denominator is sqrt(v̂) + eps, not sqrt(v̂ + eps). For small "
        "gradients the difference is large: sqrt(1e-8) is 1e-4"
    ),
    "betas_swapped": (
        "beta1 and beta2 are swapped: m, the running mean of g, decays with beta1 = betas[0]; v, the running mean "
        "of g², with beta2 = betas[1]"
    ),
    "shared_step": (
        "one step counter shared by all parameters, advanced once per parameter: each parameter keeps its own "
        "step in self.state[p], advanced once per optimizer step in which it has a gradient"
    ),
    "group0_lr": (
        "every group uses the lr of group 0 (or the constructor's lr): read group['lr'] from the group the "
        "parameter belongs to"
    ),
    "ctor_lr": (
        "every group uses the lr of group 0 (or the constructor's lr, self.defaults['lr']): read group['lr'] from "
        "the group the parameter belongs to, at every step"
    ),
    "group0_wd": "every group uses the weight_decay of group 0: read group['weight_decay'] from the parameter's own group",
    "lr_frozen": (
        "the lr is read once, when the optimizer is built: a schedule writes group['lr'] between steps, so read "
        "it from the group at every step"
    ),
    "decay_without_grad": (
        "parameters without a gradient are decayed: a parameter whose .grad is None did not take part in this "
        "step; skip it entirely (no decay, no moments, no step counted), as torch does"
    ),
}
ZERO_STEP = (
    "bias correction at step 0 divides by zero: 1 - beta^0 = 0. Count the step first (state['step'] += 1), "
    "then use it, so the first update has t = 1"
)


# -- the problem every trajectory is run on -----------------------------------------------------
class Problem:
    """Parameters of SHAPES and a gradient s·(c ⊙ (p - target) + noise_t) for each, noise fresh at each step.

    Everything comes from its own torch.Generator: nothing depends on the global random state."""

    def __init__(self, dtype=torch.float64, seed=0, shapes=SHAPES, scales=GRAD_SCALES):
        gen = torch.Generator().manual_seed(seed)
        self.init = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
        self.target = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
        self.curv = [torch.rand(s, generator=gen, dtype=dtype) + 0.5 for s in shapes]
        self.scales, self.seed = scales, seed

    def params(self):
        return [nn.Parameter(x.clone()) for x in self.init]

    def grads(self, values, step):
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        with torch.no_grad():
            return [
                s * (c * (p.detach() - t) + torch.randn(p.shape, generator=gen, dtype=p.dtype))
                for p, t, c, s in zip(values, self.target, self.curv, self.scales)
            ]


def learner_line(e: BaseException, submission) -> str:
    """The line of the learner's file where `e` was raised, for a message that replaces the crash."""
    path = getattr(submission, "__file__", "") or ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" (your line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""


def call_step(opt, submission, closure=None, none_grad=""):
    """opt.step(), with the crashes a mistake explains turned into that mistake's message."""
    try:
        return opt.step(closure) if closure is not None else opt.step()
    except NotImplementedError:
        raise
    except ZeroDivisionError as e:
        raise Misconception(ZERO_STEP, f"ZeroDivisionError: {e}{learner_line(e, submission)}") from None
    except (AttributeError, TypeError) as e:
        if none_grad and "NoneType" in str(e):
            raise Misconception(none_grad, f"{type(e).__name__}: {e}{learner_line(e, submission)}") from None
        raise


SLOW = (
    "the update is much slower than the reference: update each tensor with whole-tensor operations (mul_, "
    "lerp_ or add_, addcmul_, sqrt, addcdiv_); a Python loop over elements, or .item() per element, costs "
    "microseconds per number, and a GPT has millions"
)


def trajectory(make, problem, steps, record=RECORD, lr_scale=None, skip=None, submission=None, slower_than=None):
    """Run `make(params)` on `problem`; the parameters' values after each step in `record`, and the optimizer.

    lr_scale(step) multiplies every group's initial lr at each step, as a schedule would; skip(i, step)
    leaves parameter i without a gradient (grad None) at that step. `slower_than`: torch's time for the same
    run, of which the learner's run may take at most SLOW_FACTOR times (so an element loop fails in seconds)."""
    params = problem.params()
    opt = make(params)
    base = [g["lr"] for g in opt.param_groups]
    snaps, start = Snapshots(), _cpu_seconds()
    for step in range(steps):
        if lr_scale is not None:
            for group, lr in zip(opt.param_groups, base):
                group["lr"] = lr * lr_scale(step)
        for i, (p, g) in enumerate(zip(params, problem.grads(params, step))):
            p.grad = None if skip is not None and skip(i, step) else g
        if submission is None:
            opt.step()
        else:
            call_step(opt, submission, none_grad=MISTAKES["decay_without_grad"] if skip else "")
        if step + 1 in record:
            snaps[step + 1] = [p.detach().clone() for p in params]
        elapsed = _cpu_seconds() - start
        if slower_than is not None and elapsed > max(SLOW_FACTOR * slower_than, SLOW_FLOOR_S):
            raise Misconception(
                SLOW,
                f"{step + 1} of {steps} steps took {elapsed:.1f} s of CPU time; torch.optim.AdamW did all {steps} in "
                f"{slower_than:.2f} s",
            )
    snaps.elapsed = _cpu_seconds() - start
    return snaps, opt


class Snapshots(dict):
    """step -> the parameters' values after it; `elapsed`: the run's seconds."""

    elapsed = 0.0


# -- the mistakes, written out --------------------------------------------------------------------
def simulate(problem, steps, groups, flaw="", lr_scale=None, skip=None, record=RECORD):
    """AdamW on plain tensors with one `flaw` (a key of MISTAKES, or "" for none): values after each step in
    `record`. groups: dicts with "idx" (the parameters' positions) and lr, betas, eps, weight_decay."""
    x = [p.clone() for p in problem.init]
    m, v = [torch.zeros_like(p) for p in x], [torch.zeros_like(p) for p in x]
    t, shared, snaps = [0] * len(x), 0, {}
    for step in range(steps):
        grads = problem.grads(x, step)
        for group in groups:
            hp = groups[0] if flaw == "group0_lr" else group
            lr = hp["lr"] * (lr_scale(step) if lr_scale is not None and flaw != "lr_frozen" else 1.0)
            if flaw == "ctor_lr":  # the constructor's lr, self.defaults["lr"], which no schedule touches
                lr = group["ctor_lr"]
            wd = (groups[0] if flaw == "group0_wd" else group)["weight_decay"]
            beta1, beta2 = group["betas"][::-1] if flaw == "betas_swapped" else group["betas"]
            eps = group["eps"]
            for i in group["idx"]:
                if skip is not None and skip(i, step):
                    if flaw == "decay_without_grad":
                        x[i] = x[i] * (1 - lr * wd)
                    continue
                g = grads[i] + wd * x[i] if flaw == "l2" else grads[i]
                t[i] += 1
                shared += 1
                tt = {"shared_step": shared, "step_plus_one": t[i] + 1}.get(flaw, t[i])
                if flaw not in ("l2", "decay_after", "no_decay"):
                    x[i] = x[i] * (1 - (wd if flaw == "decay_without_lr" else lr * wd))
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                bc1 = 1.0 if flaw in ("no_bias_correction", "no_bc1") else 1 - beta1**tt
                bc2 = 1.0 if flaw in ("no_bias_correction", "no_bc2") else 1 - beta2**tt
                denom = (v[i] / bc2 + eps).sqrt() if flaw == "eps_inside" else (v[i] / bc2).sqrt() + eps
                x[i] = x[i] - lr * (m[i] / bc1) / denom
                if flaw == "decay_after":
                    x[i] = x[i] * (1 - lr * wd)
        if step + 1 in record:
            snaps[step + 1] = [p.clone() for p in x]
    return snaps


def identical(a, b):
    """Bit for bit the same values, nan where the other has nan (torch.equal says nan != nan)."""
    return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a.isnan() & b.isnan())).all())


def same(a, b, rtol, atol):
    return all(x.shape == y.shape and torch.allclose(x.double(), y.double(), rtol, atol) for x, y in zip(a, b))


def diagnose(got, problem, groups, flaws, **run):
    """The message of the first flaw in `flaws` whose simulation reproduces `got` (float64 snapshots of at
    most 10 steps), or None."""
    early = {k: vals for k, vals in got.items() if k <= 10}
    if not early:
        return None
    for flaw in flaws:
        sim = simulate(problem, max(early), groups, flaw, record=tuple(early), **run)
        if all(same(early[k], sim[k], 1e-7, 1e-10) for k in early):
            return MISTAKES[flaw]
    return None


def describe(got, want):
    """Which parameter drifts most, as a readable line."""
    worst = max(range(len(want)), key=lambda i: float((got[i].double() - want[i].double()).abs().max()))
    g, w = got[worst].double().flatten(), want[worst].double().flatten()
    j = int((g - w).abs().argmax())
    return f"parameter {worst} of shape {tuple(want[worst].shape)}: got {g[j].item():.8g}, torch.optim.AdamW {w[j].item():.8g}"


def compare_run(got, want, why, rtol, atol, diagnosis=None):
    """Compare snapshots step by step; the first step that differs names the mistake (diagnosis() or `why`)."""
    for k in sorted(want):
        if not same(got[k], want[k], rtol, atol):
            message = (diagnosis() if diagnosis else None) or why
            raise Misconception(message, f"after step {k}, {describe(got[k], want[k])}")
    for k in sorted(want):  # sealed comparisons, once all agree
        for i, (g, w) in enumerate(zip(got[k], want[k])):
            expect_close(g, w, f"{why} (step {k}, parameter {i})", rtol=rtol, atol=atol)


def one_group(hp, n=len(SHAPES)):
    return [dict(idx=list(range(n)), **hp)]


ALL_FLAWS = (
    "no_bias_correction", "no_bc2", "no_bc1", "step_plus_one", "l2", "decay_after", "decay_without_lr",
    "no_decay", "eps_inside", "betas_swapped", "shared_step",
)  # fmt: skip


def torch_make(**hp):
    return lambda params: TorchAdamW(params, foreach=False, **hp)


def checked(opt):
    expect(
        isinstance(opt, torch.optim.Optimizer),
        "AdamW must subclass torch.optim.Optimizer (class AdamW(torch.optim.Optimizer)) and call "
        "super().__init__(params, defaults): that gives it param_groups, self.state, state_dict() and "
        "load_state_dict()",
        f"got an instance of {type(opt).__name__}",
    )
    return opt


def learner_make(submission, **hp):
    return lambda params: checked(submission.AdamW(params, **hp))


# -- the update -----------------------------------------------------------------------------------
def test_first_step_matches_torch(submission):
    """one step from a fresh state, with the default hyperparameters, equals torch.optim.AdamW's"""
    problem = Problem(seed=1)
    want, _ = trajectory(torch_make(), problem, 3, record=(1, 2, 3))
    got, _ = trajectory(learner_make(submission), problem, 3, record=(1, 2, 3), submission=submission)
    for k in (1, 2, 3):
        for p in got[k]:
            expect(
                bool(_isfinite(p).all()),
                f"{ZERO_STEP}; or another division by zero in the update",
                f"after step {k} a parameter holds {p.flatten()[~_isfinite(p.flatten())][:3].tolist()}",
            )
    compare_run(
        got, want,
        "the first updates differ from torch.optim.AdamW with the defaults lr=1e-3, betas=(0.9, 0.999), eps=1e-8, "
        "weight_decay=1e-2: p *= 1 - lr·wd, then m and v, then p -= lr·m̂ / (sqrt(v̂) + eps). With bias correction "
        "the first step moves each entry by about lr",
        RTOL64, ATOL64,
        lambda: diagnose(got, problem, one_group(DEFAULTS), ALL_FLAWS),
    )  # fmt: skip


# -- speed ----------------------------------------------------------------------------------------
def many_params(n, shape, seed=14):
    gen = torch.Generator().manual_seed(seed)
    params = [nn.Parameter(torch.randn(shape, generator=gen)) for _ in range(n)]
    for p in params:
        p.grad = torch.randn(shape, generator=gen)
    return params


def test_update_is_vectorised(submission, reference, budget):
    """a step over many tensors costs about what the reference's does: whole-tensor operations, no loop over elements"""
    # A small case first, so that an element loop fails in a second; then many tensors, where the number of
    # operations per tensor and their temporaries decide.
    for n, shape in ((8, (16, 16)), (50, (64, 64))):
        mine, theirs = many_params(n, shape), many_params(n, shape)
        opt, ref = submission.AdamW(mine, lr=1e-4), reference.AdamW(theirs, lr=1e-4)
        budget.latency(
            lambda: call_step(opt, submission), ref.step, why=f"{SLOW} ({n} tensors of {shape[0]}x{shape[1]})", repeat=11
        )


def test_weight_decay_is_decoupled(submission):
    """weight decay shrinks p by lr·weight_decay·p before the Adam step; it is not added to the gradient"""
    hp = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5)  # lr·wd = 0.05: a visible shrink
    problem = Problem(seed=2, shapes=((4,), (2, 3)), scales=(0.0, 1.0))  # the first parameter has zero gradient
    want, _ = trajectory(torch_make(**hp), problem, 2, record=(1, 2))
    expect_close(
        want[1][0], problem.init[0] * (1 - 0.05), "grader self-check: torch's decay is wrong, a course bug"
    )
    got, _ = trajectory(learner_make(submission, **hp), problem, 2, record=(1, 2), submission=submission)
    flaws = ("l2", "decay_after", "decay_without_lr", "no_decay")
    compare_run(
        got, want,
        "weight decay must be decoupled: each step first multiplies p by 1 - lr·weight_decay (here 1 - 0.1·0.5 = "
        "0.95: a parameter whose gradient is 0 just shrinks by 5%), then takes the Adam step from m and v, which "
        "never see the decay",
        RTOL64, ATOL64,
        lambda: diagnose(got, problem, one_group(hp, 2), flaws),
    )  # fmt: skip


def test_eps_outside_the_square_root(submission):
    """eps is added to sqrt(v̂), not inside the square root, and its value comes from the eps argument"""
    hp = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    problem = Problem(seed=3, scales=(1e-6, 3e-6, 1e-5, 1e-4))  # gradients near eps: eps matters
    want, _ = trajectory(torch_make(**hp), problem, 3, record=(1, 2, 3))
    got, _ = trajectory(learner_make(submission, **hp), problem, 3, record=(1, 2, 3), submission=submission)
    compare_run(
        got, want,
        "with gradients of 1e-6..1e-4 and eps=1e-6 your updates differ from torch's: the denominator is "
        "sqrt(v̂) + eps, with the eps passed to the constructor (group['eps'])",
        RTOL64, ATOL64,
        lambda: diagnose(got, problem, one_group(hp), ("eps_inside", *ALL_FLAWS)),
    )  # fmt: skip


def test_long_run_matches_torch(submission):
    """1000 steps on a scalar, a (1,), a 3-D and a 2-D parameter, in float64 and float32, follow torch.optim.AdamW"""
    for dtype, rtol, atol in ((torch.float64, RTOL64, ATOL64), (torch.float32, RTOL32, ATOL32)):
        problem = Problem(dtype=dtype, seed=4)
        want, _ = trajectory(torch_make(**LONG), problem, 1000)
        got, opt = trajectory(
            learner_make(submission, **LONG), problem, 1000, submission=submission, slower_than=want.elapsed
        )
        for p in opt.param_groups[0]["params"]:
            expect(p.dtype == dtype, f"the parameters must keep their dtype ({dtype})", f"got {p.dtype}")
        if dtype == torch.float64:
            why = (
                f"over 1000 steps with lr={LONG['lr']}, betas={LONG['betas']}, eps={LONG['eps']}, "
                f"weight_decay={LONG['weight_decay']} your parameters drift away from torch.optim.AdamW's"
            )
            diagnosis = lambda: diagnose(got, problem, one_group(LONG), ALL_FLAWS)  # noqa: E731
        else:
            why = (
                "in float32 your parameters drift away from torch.optim.AdamW's, although float64 agrees: a "
                "precision-only difference. Keep m and v in the parameter's dtype and compute the bias corrections "
                "as Python floats (1 - beta**t), not in float32 tensors"
            )
            diagnosis = None
        compare_run(got, want, why, rtol, atol, diagnosis)
    if torch.cuda.is_available():  # state made on the parameter's device (zeros_like, not torch.zeros(shape))
        problem = OnGPU(dtype=torch.float32, seed=5)
        want, _ = trajectory(torch_make(**LONG), problem, 20, record=(20,))
        got, _ = trajectory(learner_make(submission, **LONG), problem, 20, record=(20,), submission=submission)
        compare_run(
            got, want,
            "on the GPU your AdamW differs from torch's: make the state with torch.zeros_like(p), on p's device",
            RTOL32, ATOL32,
        )  # fmt: skip


class OnGPU(Problem):
    """The same problem with CUDA parameters; the gradients are drawn on the CPU and moved."""

    def params(self):
        return [nn.Parameter(x.clone().cuda()) for x in self.init]

    def grads(self, values, step):
        return [g.cuda() for g in super().grads([v.detach().cpu() for v in values], step)]


def test_betas_and_moments(submission):
    """m follows g with beta1 = betas[0] and v follows g² with beta2 = betas[1], step after step"""
    hp = dict(lr=1e-2, betas=(0.5, 0.9), eps=1e-8, weight_decay=0.0)  # far apart, and far from the defaults
    problem = Problem(seed=6)
    want, _ = trajectory(torch_make(**hp), problem, 10, record=(1, 2, 3, 10))
    got, _ = trajectory(learner_make(submission, **hp), problem, 10, record=(1, 2, 3, 10), submission=submission)
    compare_run(
        got, want,
        "with betas=(0.5, 0.9) your updates differ from torch's from the second step on: m = beta1·m + (1 - "
        "beta1)·g and v = beta2·v + (1 - beta2)·g², each bias-corrected with its own beta",
        RTOL64, ATOL64,
        lambda: diagnose(got, problem, one_group(hp), ALL_FLAWS),
    )  # fmt: skip


def test_param_groups_use_their_own_lr_and_decay(submission):
    """each group's own lr and weight_decay are used, and a new group['lr'] written between steps takes effect"""
    ctor = dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)  # the groups below override lr and wd

    def make(cls, **extra):
        def build(params):
            groups = [
                {"params": [params[0], params[2]], "lr": 2e-2, "weight_decay": 0.3},
                {"params": [params[1], params[3]], "lr": 5e-3, "weight_decay": 0.0},
            ]
            return cls(groups, **ctor, **extra)

        return build

    schedule = lambda step: 1.0 / (1 + step)  # noqa: E731 - as a schedule would write it
    problem = Problem(seed=7)
    want, _ = trajectory(make(TorchAdamW, foreach=False), problem, 30, record=(1, 2, 3, 10, 30), lr_scale=schedule)
    got, opt = trajectory(
        lambda ps: checked(make(submission.AdamW)(ps)),
        problem, 30, record=(1, 2, 3, 10, 30), lr_scale=schedule, submission=submission,
    )  # fmt: skip
    groups = [dict(idx=[0, 2], lr=2e-2, weight_decay=0.3), dict(idx=[1, 3], lr=5e-3, weight_decay=0.0)]
    groups = [dict(g, betas=ctor["betas"], eps=ctor["eps"], ctor_lr=ctor["lr"]) for g in groups]
    compare_run(
        got, want,
        "with two parameter groups (lr 2e-2 and 5e-3, weight_decay 0.3 and 0) and the lr rewritten before every "
        "step, your updates differ from torch's: read lr, betas, eps and weight_decay from each group at every step",
        RTOL64, ATOL64,
        lambda: diagnose(
            got, problem, groups, ("group0_lr", "ctor_lr", "group0_wd", "lr_frozen", *ALL_FLAWS), lr_scale=schedule
        ),
    )  # fmt: skip


def test_parameters_without_grad_are_skipped(submission):
    """a parameter whose .grad is None is left as it is: not decayed, no state created, no step counted"""
    problem = Problem(seed=8)
    skip = lambda i, step: i == 1 or (i == 3 and step % 2 == 1)  # noqa: E731 - 1 never used, 3 every other step
    hp = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.5)
    want, _ = trajectory(torch_make(**hp), problem, 20, record=(1, 2, 3, 10, 20), skip=skip)
    got, opt = trajectory(
        learner_make(submission, **hp), problem, 20, record=(1, 2, 3, 10, 20), skip=skip, submission=submission
    )
    unused = opt.param_groups[0]["params"][1]
    expect(
        _equal(unused.detach(), problem.init[1]),
        MISTAKES["decay_without_grad"],
        f"the parameter that never had a gradient moved from {problem.init[1].tolist()} to {unused.tolist()}",
    )
    expect(
        not opt.state.get(unused),
        "parameters without a gradient must get no state: create m, v and the step only for a parameter the "
        "first time it has a gradient (a never-used embedding row table costs no optimizer memory)",
        f"self.state for the unused parameter holds {sorted(opt.state.get(unused, {}))}",
    )
    compare_run(
        got, want,
        "with one parameter that never has a gradient and one that has one every other step, your updates differ "
        "from torch's: skip a parameter whose .grad is None, and count each parameter's own steps",
        RTOL64, ATOL64,
        lambda: diagnose(got, problem, one_group(hp), ("decay_without_grad", "shared_step", *ALL_FLAWS), skip=skip),
    )  # fmt: skip


# -- state, resume, graph, closure ----------------------------------------------------------------
def test_state_lives_in_self_state(submission):
    """each parameter's step and moments are in self.state[p], as tensors of p's shape and dtype, and state_dict() has them"""
    problem = Problem(dtype=torch.float32, seed=9)
    _, opt = trajectory(learner_make(submission, **LONG), problem, 2, record=(), submission=submission)
    params = opt.param_groups[0]["params"]
    for i, p in enumerate(params):
        state = opt.state.get(p) or {}
        tensors = [
            k for k, s in state.items() if isinstance(s, torch.Tensor) and s.shape == p.shape and s.dtype == p.dtype
        ]
        others = [
            k for k, s in state.items() if isinstance(s, torch.Tensor) and s.numel() == p.numel() and s.dtype != p.dtype
        ]
        where = f"parameter {i} of shape {tuple(p.shape)}, {p.dtype}: self.state[p] holds " + (
            ", ".join(f"{k}: {describe_value(s)}" for k, s in state.items()) or "nothing"
        )
        expect(
            not others,
            "the moments must have the parameter's dtype (torch.zeros_like(p)), as torch's do: float64 moments "
            "for float32 weights double the optimizer's memory, and in mixed precision the state's dtype is a "
            "deliberate choice, not an accident",
            where,
        )
        expect(
            len(tensors) >= 2,
            "the optimizer's state is not kept in self.state[p]: keep each parameter's step and its moments m and "
            "v there (tensors of the parameter's shape and dtype: torch.zeros_like(p)), so that state_dict() saves "
            "them and load_state_dict() restores them",
            where,
        )
    saved = opt.state_dict()["state"]
    expect(
        len(saved) == len(params),
        "the optimizer's state is not kept in self.state[p]: state_dict() saves only what is there",
        f"state_dict()['state'] has {len(saved)} entries for {len(params)} parameters",
    )


def describe_value(s):
    if isinstance(s, torch.Tensor):
        return f"tensor {tuple(s.shape)} {s.dtype}"
    return type(s).__name__


def test_resume_from_state_dict_is_exact(submission):
    """300 steps, a checkpoint through torch.save, a fresh optimizer with load_state_dict(), 100 more: as 400 in a row"""
    problem = Problem(seed=10)
    make = learner_make(submission, **LONG)
    want, _ = trajectory(torch_make(**LONG), problem, 400, record=(400,))
    straight, _ = trajectory(make, problem, 400, record=(400,), submission=submission, slower_than=want.elapsed)

    first, opt = trajectory(make, problem, 300, record=(300,), submission=submission, slower_than=want.elapsed)
    buffer = io.BytesIO()
    torch.save({"model": [p.detach().clone() for p in opt.param_groups[0]["params"]], "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    try:
        checkpoint = torch.load(buffer, weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever cannot be loaded back
        raise Misconception(
            "the optimizer's state_dict() cannot be loaded back with torch.load(weights_only=True): keep only "
            "tensors, numbers and the group settings in self.state[p]",
            f"{type(e).__name__}: {str(e).splitlines()[0]}",
        ) from None
    params = problem.params()
    with torch.no_grad():
        for p, value in zip(params, checkpoint["model"]):
            p.copy_(value)
    fresh = make(params)
    fresh.load_state_dict(checkpoint["opt"])
    expect(
        len(fresh.state) == len(params) and all(fresh.state.get(p) for p in params),
        "the optimizer's state is not kept in self.state[p]: after load_state_dict() the fresh optimizer has no "
        "moments, so it starts again from step 1",
        f"after load_state_dict() self.state has {sum(bool(fresh.state.get(p)) for p in params)} of {len(params)} "
        "parameters",
    )
    for step in range(300, 400):
        for p, g in zip(params, problem.grads(params, step)):
            p.grad = g
        call_step(fresh, submission)
    for i, (a, b) in enumerate(zip(params, straight[400])):
        expect(
            identical(a.detach(), b),
            "resuming from state_dict() changes the trajectory: after load_state_dict() the optimizer must continue "
            "exactly where it stopped. Keep the step count and both moments of every parameter in self.state[p], "
            "and nothing that matters anywhere else (an attribute of the optimizer is not saved)",
            f"after 400 steps, parameter {i}: resumed {a.flatten()[:3].tolist()}, uninterrupted {b.flatten()[:3].tolist()}",
        )
    for i, (a, w) in enumerate(zip(params, want[400])):
        expect_close(a.detach(), w, f"the resumed run differs from torch.optim.AdamW (parameter {i})", rtol=RTOL64, atol=ATOL64)


def test_two_optimizers_keep_separate_state(submission):
    """two optimizers on two models, stepped in turn, each follow their own torch.optim.AdamW"""
    problems = [Problem(seed=11), Problem(seed=12)]
    hp = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    want = [trajectory(torch_make(**hp), pr, 5, record=(5,))[0][5] for pr in problems]
    params = [pr.params() for pr in problems]
    opts = [learner_make(submission, **hp)(ps) for ps in params]
    for step in range(5):
        for pr, ps, opt in zip(problems, params, opts):
            for p, g in zip(ps, pr.grads(ps, step)):
                p.grad = g
            call_step(opt, submission)
    for k, (ps, w) in enumerate(zip(params, want)):
        for i, (p, x) in enumerate(zip(ps, w)):
            expect_close(
                p.detach(), x,
                "two optimizers share state: keep everything per instance, in self.state[p] (a dict or counter "
                "defined on the class is shared by every AdamW)",
                rtol=RTOL64, atol=ATOL64,
            )  # fmt: skip


class Tiny(nn.Module):
    """A linear layer and a scalar gain, trained with a real loss.backward()."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(13)
        self.fc = nn.Linear(4, 3).double()
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(3, 4, generator=gen, dtype=torch.float64))
            self.fc.bias.copy_(torch.randn(3, generator=gen, dtype=torch.float64))
        self.gain = nn.Parameter(torch.tensor(1.5, dtype=torch.float64))
        self.x = torch.randn(8, 4, generator=gen, dtype=torch.float64)

    def loss(self):
        return (self.gain * self.fc(self.x)).pow(2).mean()


def test_update_records_no_graph(submission):
    """after step() the parameters are the same leaves, changed in place; p.grad is unchanged; the state has no graph"""
    model = Tiny()
    ref = Tiny()
    torch_opt = TorchAdamW(ref.parameters(), foreach=False, lr=1e-2)
    params = list(model.parameters())
    opt = learner_make(submission, lr=1e-2)(params)
    for step in range(3):
        for m, o in ((ref, torch_opt), (model, None)):
            for p in m.parameters():
                p.grad = None
            m.loss().backward()
            if o is not None:
                o.step()
        grads = [p.grad.clone() for p in params]
        before = [p.detach().clone() for p in params]
        call_step(opt, submission)
        expect(torch.is_grad_enabled(), "step() must leave autograd as it found it (enabled)")
        current = list(model.parameters())
        expect(
            all(a is b for a, b in zip(current, params)) and all(a is b for a, b in zip(opt.param_groups[0]["params"], params)),
            "the parameters must be updated in place (p.mul_, p.add_, p.addcdiv_ under torch.no_grad()), not "
            "replaced by new tensors: the model and the optimizer hold the same Parameter objects",
        )
        for i, p in enumerate(params):
            expect(
                p.is_leaf and p.grad_fn is None and p.requires_grad,
                "the update recorded an autograd graph on the parameters: run it under torch.no_grad() (decorate "
                "step with @torch.no_grad()), so each parameter stays a leaf that requires grad",
                f"parameter {i}: is_leaf={p.is_leaf}, grad_fn={p.grad_fn}, requires_grad={p.requires_grad}",
            )
            expect(
                not identical(p.detach(), before[i]),
                "step() did not change the parameters: update them in place (p.addcdiv_(...)); `p = p - ...` only "
                "rebinds a local name",
                f"parameter {i} is unchanged after step {step + 1}",
            )
            expect(
                identical(p.grad, grads[i]),
                "step() modified p.grad: the gradient belongs to the caller (it may be logged, clipped or "
                "accumulated); read it, and write only the parameter and your state (no grad.mul_, grad.add_)",
                f"parameter {i}: p.grad changed during step {step + 1}",
            )
        for p in params:
            for key, s in (opt.state.get(p) or {}).items():
                if isinstance(s, torch.Tensor):
                    expect(
                        not (s.requires_grad or s.grad_fn is not None),
                        "a graph grows across steps: the optimizer's state requires grad, so every step adds to an "
                        "autograd graph that is never freed. Run the update under torch.no_grad() and make the "
                        "state with torch.zeros_like(p)",
                        f"self.state[p][{key!r}] has requires_grad={s.requires_grad}, grad_fn={s.grad_fn}",
                    )
    for i, (p, q) in enumerate(zip(params, ref.parameters())):
        expect_close(p.detach(), q.detach(), f"after loss.backward() and 3 steps, parameter {i} differs from torch's", rtol=RTOL64, atol=ATOL64)


def test_closure(submission):
    """step(closure) calls the closure once with autograd on, uses the gradients it computed, and returns its loss"""
    model, ref = Tiny(), Tiny()
    torch_opt = TorchAdamW(ref.parameters(), foreach=False, lr=1e-2)
    opt = learner_make(submission, lr=1e-2)(list(model.parameters()))
    calls, grad_modes, losses = [], [], []

    def closure():
        calls.append(1)
        grad_modes.append(torch.is_grad_enabled())
        if not torch.is_grad_enabled():
            raise Misconception(
                "the closure ran under torch.no_grad(): it computes the loss and calls backward(), which needs "
                "autograd. Call it inside `with torch.enable_grad():` (step itself is under no_grad)",
            )
        opt.zero_grad()
        loss = model.loss()
        loss.backward()
        losses.append(loss)
        return loss

    def torch_closure():
        torch_opt.zero_grad()
        loss = ref.loss()
        loss.backward()
        return loss

    for step in range(2):
        want_loss = torch_opt.step(torch_closure)
        got_loss = call_step(opt, submission, closure)
        expect(
            len(calls) == step + 1,
            "step(closure) must call the closure exactly once per step, before the update: it recomputes the loss "
            "and the gradients that the update then uses",
            f"after {step + 1} step(closure) calls the closure ran {len(calls)} times",
        )
        expect(
            got_loss is losses[-1],
            "step(closure) must return what the closure returned (the loss), as torch's optimizers do",
            f"got {got_loss!r}",
        )
        expect_close(got_loss.detach(), want_loss.detach(), "the loss returned by step(closure) differs from torch's")
    for i, (p, q) in enumerate(zip(model.parameters(), ref.parameters())):
        expect_close(p.detach(), q.detach(), f"after 2 step(closure) calls, parameter {i} differs from torch's", rtol=RTOL64, atol=ATOL64)


def test_written_by_hand(submission, monkeypatch):
    """AdamW computes its update itself: it neither subclasses torch's Adam/AdamW nor calls torch's adam kernels"""
    import torch.optim.adam as torch_adam

    expect(
        not (isinstance(submission.AdamW, type) and issubclass(submission.AdamW, (TorchAdam, TorchAdamW))),
        "your AdamW subclasses torch.optim.AdamW (or Adam), so torch computes the update: this step asks you to "
        "write step() yourself from torch.optim.Optimizer (the grader compares with torch's version for you)",
    )
    calls = []
    for name in ("_single_tensor_adam", "_multi_tensor_adam", "_fused_adam"):
        original = getattr(torch_adam, name)
        monkeypatch.setattr(torch_adam, name, lambda *a, _f=original, **k: calls.append(1) or _f(*a, **k))
    problem = Problem(seed=16)
    trajectory(learner_make(submission), problem, 2, record=(), submission=submission)
    expect(
        not calls,
        "your AdamW calls torch's AdamW to do the update (torch.optim.AdamW(...).step() or torch.optim.adam's "
        "functions): write the update yourself with tensor operations",
    )


# -- which parameters are decayed -------------------------------------------------------------------
class SmallGPT(nn.Module):
    """Embeddings, a LayerNorm, linear layers with and without bias, a scalar gain and a head tied to tok_emb."""

    def __init__(self, vocab=11, block=7, d=8):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(block, d)
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(3 * d, d, bias=False)
        self.ln_f = nn.LayerNorm(d)
        self.temperature = nn.Parameter(torch.tensor(1.0))  # a 0-dim gain
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied: one parameter, two modules


def test_param_groups_for(submission):
    """param_groups_for gives [decay, no-decay]: p.dim() >= 2 decayed, biases, norm weights and scalars not, each once"""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(15)
    model = SmallGPT()
    torch.random.set_rng_state(gen_state)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = {id(p): n for n, p in model.named_parameters()}  # a tied weight under its first name
    want_decay = {n for n, p in model.named_parameters() if p.dim() >= 2}
    want_plain = {n for n, p in model.named_parameters() if p.dim() < 2}
    groups = submission.param_groups_for(model, 0.1)
    expect(
        isinstance(groups, list) and len(groups) == 2 and all(isinstance(g, dict) and "params" in g for g in groups),
        "param_groups_for returns a list of two dicts, [decay group, no-decay group], each with 'params' and "
        "'weight_decay'",
        f"got {type(groups).__name__} of {len(groups) if hasattr(groups, '__len__') else '?'}",
    )
    decay, plain = (list(g["params"]) for g in groups)
    expect(
        groups[0].get("weight_decay") == 0.1 and groups[1].get("weight_decay") == 0.0,
        "the first group decays with the weight_decay argument, the second has weight_decay 0.0",
        f"weight_decay: got {groups[0].get('weight_decay')!r} and {groups[1].get('weight_decay')!r}, expected 0.1 and 0.0",
    )
    listed = [id(p) for p in decay + plain]
    unknown = [p for p in decay + plain if id(p) not in names]
    expect(
        not unknown,
        "the groups must hold the model's Parameter objects themselves (from model.parameters()), not copies or names",
        f"{len(unknown)} entries are not parameters of the model",
    )
    twice = sorted({names[i] for i in listed if listed.count(i) > 1})
    expect(
        not twice,
        "a parameter appears twice: the tied weight (lm_head.weight is tok_emb.weight) is one parameter; "
        "model.parameters() yields it once, named_parameters(remove_duplicate=False) twice",
        f"listed more than once: {twice}",
    )
    missing = sorted(set(names.values()) - {names[i] for i in listed})
    expect(not missing, "every parameter of the model belongs to one of the two groups", f"missing: {missing}")
    got_decay, got_plain = {names[id(p)] for p in decay}, {names[id(p)] for p in plain}
    if got_decay != want_decay:
        wrongly = sorted(got_decay - want_decay)
        spared = sorted(want_decay - got_decay)
        if any(n.startswith("ln") for n in wrongly):
            why = (
                "LayerNorm weights are decayed: a norm's gain (and every bias) is 1-D and sets a scale, which decay "
                "would pull towards 0 for no benefit. Decay only tensors with p.dim() >= 2"
            )
        elif any("emb" in n for n in spared):
            why = (
                "embeddings are not decayed: nn.Embedding's weight is a 2-D matrix like a linear layer's, and "
                "nanoGPT's rule decays every parameter with p.dim() >= 2"
            )
        elif any(n.endswith("bias") for n in wrongly):
            why = "biases are decayed: they are 1-D; decay only tensors with p.dim() >= 2"
        else:
            why = "decay exactly the parameters with p.dim() >= 2 (linear weights, embeddings), no others"
        raise Misconception(why, f"decayed but should not be: {wrongly}; not decayed but should be: {spared}")
    expect(got_plain == want_plain, "the no-decay group holds every parameter with p.dim() < 2", f"got {sorted(got_plain)}")
    opt = TorchAdamW(groups, lr=1e-3)  # raises if a parameter is in both groups
    expect(
        [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0],
        "the groups must work as given to an optimizer: torch.optim.AdamW(param_groups_for(model, wd), lr=...)",
    )
    after = model.state_dict()
    expect(
        all(_equal(before[k], after[k]) for k in before) and all(p.requires_grad for p in model.parameters()),
        "param_groups_for must leave the model as it was (no value or requires_grad changed)",
    )
