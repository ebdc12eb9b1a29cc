"""Grader: the warm-up + cosine learning-rate schedule, and clipping the gradients by their global norm.

Expected values come from values worked out by hand, from torch's SequentialLR(LinearLR,
CosineAnnealingLR) and torch.nn.utils.clip_grad_norm_, and from the reference, all computed before the
learner's function runs; the generated settings come from hypothesis with a fixed seed.
"""

import math
import traceback

import torch
import torch.nn as nn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close

# Bound before any learner code runs.
torch_clip = torch.nn.utils.clip_grad_norm_
LinearLR, CosineAnnealingLR, SequentialLR = (
    torch.optim.lr_scheduler.LinearLR,
    torch.optim.lr_scheduler.CosineAnnealingLR,
    torch.optim.lr_scheduler.SequentialLR,
)
_equal = torch.equal

# A schedule is a few float operations: any correct order of them agrees to ~1e-15 relative, while every
# mistake below moves some step's lr by 1e-3 relative or more.
LR_RTOL, LR_ATOL = 1e-12, 1e-18
# torch's schedulers update the lr recursively, step by step: ~1e-15 per step, ~1e-13 after 1000 steps.
TORCH_RTOL = 1e-9
# Norms and scaled gradients: float64 agrees to ~1e-15; float32 sums of squares in another order to ~1e-6.
CLIP_TOL = {torch.float64: (1e-10, 1e-14), torch.float32: (1e-5, 1e-8)}

PROPERTY = settings(
    max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failing example is reported at once
)  # fmt: skip

CONVENTION = (
    "steps count from 0: lr = max_lr·(step + 1)/warmup_steps for step < warmup_steps (max_lr at step "
    "warmup_steps - 1), then min_lr + 0.5·(1 + cos(π·progress))·(max_lr - min_lr) with progress = "
    "(step - warmup_steps)/(total_steps - warmup_steps), and min_lr after total_steps"
)


def learner_line(e: BaseException, submission) -> str:
    path = getattr(submission, "__file__", "") or ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" (your line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""


def lr_of(submission, step, *args):
    """The learner's lr_at(step, *args), which must be a Python float."""
    try:
        value = submission.lr_at(step, *args)
    except NotImplementedError:
        raise
    except ZeroDivisionError as e:
        raise Misconception(
            "lr_at divided by zero: warmup_steps = 0 means no warm-up (step 0 is already on the cosine, at "
            "max_lr), so the warm-up formula must not run then",
            f"lr_at{(step, *args)}: ZeroDivisionError: {e}{learner_line(e, submission)}",
        ) from None
    expect(
        isinstance(value, (float, int)) and not isinstance(value, bool),
        "lr_at returns a Python float (group['lr'] holds a float): use math.cos and math.pi, not torch",
        f"lr_at{(step, *args)} returned {type(value).__name__}",
    )
    return float(value)


def shapes_of(values):
    return [f"{v:.6g}" for v in values]


# -- lr_at ------------------------------------------------------------------------------------------
def test_warmup_values(submission, reference):
    """the warm-up is linear from max_lr/warmup_steps at step 0 to max_lr at step warmup_steps - 1"""
    args = (1.0, 4, 20, 0.1)  # max_lr, warmup_steps, total_steps, min_lr
    want = [0.25, 0.5, 0.75, 1.0]  # worked out by hand: (step + 1) / 4
    expect_close(
        [reference.lr_at(s, *args) for s in range(4)], want, "grader self-check: the reference warm-up is wrong"
    )
    got = [lr_of(submission, s, *args) for s in range(4)]
    if all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, [0.0, 0.25, 0.5, 0.75])):
        why = (
            "the warm-up is off by one: step 0 is the first optimizer step, and with step / warmup_steps it gets "
            "lr 0 (wasted) and max_lr is reached one step late; this course uses max_lr·(step + 1)/warmup_steps"
        )
    elif all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, [0.2, 0.4, 0.6, 0.8])):
        why = (
            "the warm-up divides by warmup_steps + 1 (nanoGPT's train.py convention): this course uses "
            "max_lr·(step + 1)/warmup_steps, which reaches max_lr at step warmup_steps - 1"
        )
    else:
        why = f"the warm-up values differ: {CONVENTION}"
    expect_close(
        got, want, f"{why} (max_lr=1, warmup_steps=4: steps 0..3)", rtol=LR_RTOL, atol=LR_ATOL
    )


def test_cosine_values(submission, reference):
    """the cosine runs from max_lr at step warmup_steps to min_lr at step total_steps, over total - warmup steps"""
    max_lr, warmup, total, min_lr = 1.0, 10, 110, 0.1
    steps = [10, 35, 60, 85, 110]  # progress 0, 1/4, 1/2, 3/4, 1
    c = math.cos(math.pi / 4)
    want = [1.0, 0.1 + 0.45 * (1 + c), 0.55, 0.1 + 0.45 * (1 - c), 0.1]  # by hand
    expect_close(
        [reference.lr_at(s, max_lr, warmup, total, min_lr) for s in steps], want,
        "grader self-check: the reference cosine is wrong",
    )  # fmt: skip
    got = [lr_of(submission, s, max_lr, warmup, total, min_lr) for s in steps]

    def cosine(progress, low=min_lr):
        return low + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - low)

    over_total = [cosine(s / total) for s in steps]
    to_zero = [cosine((s - warmup) / (total - warmup), low=0.0) for s in steps]
    if all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, over_total)):
        why = (
            "the cosine runs over total_steps - warmup_steps steps, starting at the warm-up's end: progress = "
            "(step - warmup_steps)/(total_steps - warmup_steps). With step/total_steps the decay starts below "
            "max_lr and reaches min_lr too late"
        )
    elif all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, to_zero)):
        why = (
            "the schedule decays to 0 instead of min_lr: the cosine interpolates between max_lr and min_lr, "
            "min_lr + 0.5·(1 + cos(π·progress))·(max_lr - min_lr)"
        )
    else:
        why = f"the cosine values differ: {CONVENTION}"
    expect_close(
        got, want,
        f"{why} (max_lr=1, min_lr=0.1, warmup_steps=10, total_steps=110 at steps {steps})",
        rtol=LR_RTOL, atol=LR_ATOL,
    )  # fmt: skip


def test_min_lr_after_total_steps(submission):
    """every step after total_steps gets exactly min_lr"""
    max_lr, warmup, total, min_lr = 3e-4, 5, 50, 3e-5
    steps = [51, 60, 75, 95, 100, 1000]
    got = [lr_of(submission, s, max_lr, warmup, total, min_lr) for s in steps]
    if any(g < 0 for g in got):
        why = "the lr becomes negative after total_steps: from there on it stays at min_lr"
    elif any(g > min_lr * (1 + 1e-9) for g in got):
        why = (
            "after total_steps the lr stays at min_lr: an unclamped cosine climbs back up towards max_lr (it is "
            "periodic), so return min_lr for step > total_steps"
        )
    else:
        why = "after total_steps the lr stays at min_lr"
    expect_close(got, [min_lr] * len(steps), f"{why} (total_steps=50, steps {steps})", rtol=LR_RTOL, atol=LR_ATOL)


def test_no_warmup(submission):
    """warmup_steps = 0: no warm-up, step 0 starts the cosine at max_lr"""
    max_lr, total, min_lr = 2e-3, 40, 2e-4
    want = [min_lr + 0.5 * (1 + math.cos(math.pi * s / total)) * (max_lr - min_lr) for s in (0, 1, 20, 40)]
    got = [lr_of(submission, s, max_lr, 0, total, min_lr) for s in (0, 1, 20, 40)]
    expect_close(
        got, want,
        "with warmup_steps = 0 there is no warm-up: step 0 has lr max_lr and the cosine runs over all "
        "total_steps steps",
        rtol=LR_RTOL, atol=LR_ATOL,
    )  # fmt: skip


def torch_schedule(max_lr, warmup, total, min_lr):
    """The lr of steps 0..total from torch's schedulers, stepped as a training loop steps them."""
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=max_lr)
    warm = LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
    cosine = CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
    sched = SequentialLR(opt, [warm, cosine], milestones=[warmup])
    lrs = []
    for _ in range(total + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_matches_torch_schedulers(submission):
    """lr_at equals SequentialLR(LinearLR, CosineAnnealingLR) at every step up to total_steps"""
    for max_lr, warmup, total, min_lr in ((6e-4, 7, 60, 6e-5), (1e-2, 30, 300, 0.0)):
        want = torch_schedule(max_lr, warmup, total, min_lr)
        got = [lr_of(submission, s, max_lr, warmup, total, min_lr) for s in range(total + 1)]
        bad = next((s for s, (g, w) in enumerate(zip(got, want)) if not math.isclose(g, w, rel_tol=TORCH_RTOL)), None)
        expect_close(
            got, want,
            f"lr_at differs from torch's SequentialLR([LinearLR(start_factor=1/warmup_steps, total_iters=warmup_steps"
            f" - 1), CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min=min_lr)]) (max_lr={max_lr}, "
            f"warmup_steps={warmup}, total_steps={total}, min_lr={min_lr}), first at step {bad}: {CONVENTION}",
            rtol=TORCH_RTOL, atol=LR_ATOL,
        )  # fmt: skip


settings_strategy = st.tuples(
    st.integers(0, 60),  # warmup_steps
    st.integers(1, 300),  # total_steps - warmup_steps
    st.floats(1e-6, 10.0),  # max_lr
    st.floats(0.0, 1.0),  # min_lr as a fraction of max_lr
)


def test_schedule_properties(submission, reference):
    """for generated settings: exact at the boundaries, within its range, never increasing after the warm-up"""
    reference.lr_at(0, 1.0, 1, 2, 0.0)

    @PROPERTY
    @given(settings_strategy)
    def schedule(setting):
        warmup, span, max_lr, fraction = setting
        total, min_lr = warmup + span, max_lr * fraction
        args = (max_lr, warmup, total, min_lr)
        name = f"lr_at(step, max_lr={max_lr!r}, warmup_steps={warmup}, total_steps={total}, min_lr={min_lr!r})"
        steps = range(total + 6)
        lrs = [lr_of(submission, s, *args) for s in steps]
        want = [reference.lr_at(s, *args) for s in steps]
        bad = [s for s in steps if not math.isclose(lrs[s], want[s], rel_tol=LR_RTOL, abs_tol=LR_ATOL)]
        boundaries = [s for s in (0, warmup - 1, warmup, total, total + 1) if s in bad]
        expect(
            not boundaries,
            f"wrong value at a boundary of the schedule (step 0, warmup_steps - 1, warmup_steps, total_steps or "
            f"after): {CONVENTION}",
            f"{name} at step {boundaries[0] if boundaries else ''}: got {lrs[boundaries[0]] if boundaries else ''}, "
            f"expected {want[boundaries[0]] if boundaries else ''}",
        )
        low, high = min_lr * (1 - 1e-12) - 1e-300, max_lr * (1 + 1e-12)
        outside = [s for s in steps if not ((0.0 < lrs[s]) if s < warmup else (low <= lrs[s])) or lrs[s] > high]
        expect(
            not outside,
            "the lr leaves its range: it is positive and at most max_lr during the warm-up, and between min_lr and "
            "max_lr from the warm-up's end on (never below min_lr, never negative)",
            f"{name} at step {outside[0] if outside else ''}: {lrs[outside[0]] if outside else ''}",
        )
        start = max(warmup - 1, 0)
        rising = [s for s in range(start + 1, len(lrs)) if lrs[s] > lrs[s - 1] * (1 + 1e-12)]
        expect(
            not rising,
            "the lr increases after the warm-up: from max_lr at step warmup_steps - 1 it only decreases (or stays)",
            f"{name}: step {rising[0] if rising else ''} has {lrs[rising[0]] if rising else ''} after "
            f"{lrs[rising[0] - 1] if rising else ''}",
        )
        expect(
            not bad,
            f"lr_at differs from the schedule: {CONVENTION}",
            f"{name} at step {bad[0] if bad else ''}: got {lrs[bad[0]] if bad else ''}, expected {want[bad[0]] if bad else ''}",
        )

    schedule()


# -- clip_grad_norm -----------------------------------------------------------------------------------
SHAPES = ((3, 4), (5,), (), (2, 3, 2))


def with_grads(dtype=torch.float64, scales=(1.0, 0.5, 3.0, 0.01), seed=0, shapes=SHAPES, none=()):
    """Parameters with gradients of very different sizes, from their own generator; those in `none` get none."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for i, (shape, s) in enumerate(zip(shapes, scales)):
        p = nn.Parameter(torch.randn(shape, generator=gen, dtype=dtype))
        g = s * torch.randn(shape, generator=gen, dtype=dtype)
        p.grad = None if i in none else g
        params.append(p)
    return params


def clip_of(submission, parameters, *args, **kwargs):
    try:
        return submission.clip_grad_norm(parameters, *args, **kwargs)
    except NotImplementedError:
        raise
    except (AttributeError, TypeError) as e:
        if "NoneType" in str(e):
            raise Misconception(
                "parameters whose .grad is None must be skipped: a parameter that took no part in the backward "
                "pass has nothing to clip",
                f"{type(e).__name__}: {e}{learner_line(e, submission)}",
            ) from None
        raise


def as_float(value, what="clip_grad_norm"):
    expect(
        isinstance(value, (float, int, torch.Tensor)) and not isinstance(value, bool)
        and (not isinstance(value, torch.Tensor) or value.numel() == 1),
        f"{what} returns the total norm, a 0-dim tensor or a float",
        f"got {type(value).__name__}{tuple(value.shape) if isinstance(value, torch.Tensor) else ''}",
    )  # fmt: skip
    return float(value)


def norms(grads):
    return [float(torch.linalg.vector_norm(g)) for g in grads]


def diagnose_clip(got_total, got_grads, before, max_norm, eps, values=None):
    """Name the mistake that explains the learner's clipped gradients and returned norm, or None.

    Each mistake predicts a factor per gradient and a returned value (the right norm unless it says
    otherwise); the first that reproduces the learner's numbers to 1e-9, where the correct rule does not,
    names the misconception."""
    sizes = norms(before)
    if not sizes or not any(sizes):
        return None
    total = math.sqrt(sum(n * n for n in sizes))
    ratios = [a / b if b > 0 else 1.0 for a, b in zip(norms(got_grads), sizes)]

    def factor(norm):
        return max_norm / (norm + eps) if norm > max_norm else 1.0

    candidates = [  # (message, factor per gradient, returned value or None for any)
        (
            "clips each tensor on its own: the norm is global, of all gradients together (sqrt of the sum of every "
            "squared entry), and every gradient is scaled by the same factor, so the update keeps its direction",
            [factor(n) for n in sizes], None,
        ),
        (
            f"the gradients were not clipped although their global norm {total:.4g} exceeds max_norm = "
            f"{max_norm:.4g}: multiply every gradient by max_norm / (total + eps)",
            [1.0] * len(sizes), None,
        ),
        (
            f"scaled the gradients although their norm {total:.4g} is not above max_norm = {max_norm:.4g}: clip "
            "only when total > max_norm",
            [max_norm / (total + eps)] * len(sizes), None,
        ),
        (
            "the total norm is the sum of the tensors' norms: the global norm is sqrt(Σ ‖g_i‖²), the length of all "
            "gradients laid end to end, not Σ ‖g_i‖",
            [factor(sum(sizes))] * len(sizes), sum(sizes),
        ),
        (
            f"the scale factor ignores eps: it is max_norm / (total + eps), with eps = {eps:g}",
            [max_norm / total if total > max_norm else 1.0] * len(sizes), None,
        ),
        (
            "returns the norm after clipping: return the total norm measured before scaling, the number worth logging",
            [factor(total)] * len(sizes), total * factor(total),
        ),
    ]
    if values is not None:
        weights = math.sqrt(sum(float(torch.linalg.vector_norm(v)) ** 2 for v in values))
        candidates.append((
            "clip_grad_norm measured the parameters' values, not their gradients: the norm is of p.grad",
            [factor(weights)] * len(sizes), weights,
        ))  # fmt: skip
    right = ([factor(total)] * len(sizes), total)

    def matches(factors, returned):
        returned = total if returned is None else returned  # a mistake in the scaling alone returns the right norm
        same = all(math.isclose(r, f, rel_tol=1e-9) for r, f in zip(ratios, factors))
        return same and got_total is not None and math.isclose(got_total, returned, rel_tol=1e-9, abs_tol=1e-300)

    if matches(*right):
        return None
    return next((why for why, factors, returned in candidates if matches(factors, returned)), None)


def clip_case(submission, dtype, max_norm, eps=None, seed=0, scales=(1.0, 0.5, 3.0, 0.01), none=()):
    """(learner's total, learner's grads, torch's total, torch's grads, grads before) on the same parameters."""
    extra = {} if eps is None else {"eps": eps}
    ours = with_grads(dtype, scales, seed, none=none)
    if eps is None:
        want_total = torch_clip(ours, max_norm)
    else:  # torch's eps is fixed at 1e-6: the expected values for another eps worked out the same way by hand
        grads = [p.grad for p in ours if p.grad is not None]
        want_total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        if want_total > max_norm:
            for g in grads:
                g.mul_(max_norm / (want_total + eps))
    want = [p.grad for p in ours]
    params = with_grads(dtype, scales, seed, none=none)
    before = [p.grad.clone() for p in params if p.grad is not None]
    got_total = clip_of(submission, params, max_norm, **extra)
    return got_total, params, want_total, want, before


def expect_clipped(got_total, params, want_total, want, before, max_norm, eps, dtype, why):
    values = [p.detach() for p in params if p.grad is not None]
    rtol, atol = CLIP_TOL[dtype]
    grads = [p.grad for p in params]
    if any(g is None for g, w in zip(grads, want) if w is not None):
        raise Misconception("clip_grad_norm removed a gradient (p.grad is None afterwards): scale it in place")
    present = [(g, w) for g, w in zip(grads, want) if w is not None]
    total = as_float(got_total)
    wrong = (
        not math.isclose(total, float(want_total), rel_tol=rtol * 10, abs_tol=atol)
        or not all(torch.allclose(g.double(), w.double(), rtol, atol) for g, w in present)
    )
    if wrong:
        why = diagnose_clip(total, [g for g, _ in present], before, max_norm, eps, values) or why
    expect_close(total, float(want_total), f"{why} (the returned norm)", rtol=rtol * 10, atol=atol)
    for i, (g, w) in enumerate(present):
        expect_close(g, w, f"{why} (gradient {i})", rtol=rtol, atol=atol)


def test_clip_matches_torch(submission):
    """gradients above max_norm are scaled as torch.nn.utils.clip_grad_norm_ scales them, in float64 and float32"""
    for dtype in (torch.float64, torch.float32):
        for max_norm in (1.0, 0.05):
            case = clip_case(submission, dtype, max_norm, seed=1)
            expect_clipped(
                *case, max_norm, 1e-6, dtype,
                f"clip_grad_norm differs from torch.nn.utils.clip_grad_norm_ ({dtype}, max_norm={max_norm}): the "
                "global norm of every gradient together, each gradient times max_norm / (total + eps) when total > "
                "max_norm, the total from before clipping returned",
            )  # fmt: skip


def test_clip_is_global_not_per_tensor(submission):
    """one large and several small gradients: all are scaled by the same factor, the small ones too"""
    case = clip_case(submission, torch.float64, 2.0, seed=2, scales=(10.0, 0.1, 0.1, 0.1))
    expect_clipped(
        *case, 2.0, 1e-6, torch.float64,
        "every gradient must be scaled by the same factor max_norm / (total + eps), the small ones too: the norm "
        "is global, of all gradients together",
    )  # fmt: skip


def test_no_clipping_below_max_norm(submission):
    """when the global norm is at most max_norm (equal included) no gradient changes, not even by rounding"""
    params = with_grads(torch.float64, seed=3)
    want_total = float(torch_clip(with_grads(torch.float64, seed=3), 1e6))
    before = [p.grad.clone() for p in params]
    total = as_float(clip_of(submission, params, 100.0))
    changed = [i for i, (p, b) in enumerate(zip(params, before)) if not _equal(p.grad, b)]
    if changed:
        ratio = float(torch.linalg.vector_norm(params[changed[0]].grad) / torch.linalg.vector_norm(before[changed[0]]))
        expect(
            False,
            f"scaled the gradients although their norm {want_total:.4g} is below max_norm = 100: clip only when "
            "total > max_norm (scaling by max_norm / total would blow small gradients up)",
            f"gradient {changed[0]} was multiplied by {ratio:.4g}",
        )
    why = diagnose_clip(total, [p.grad for p in params], before, 100.0, 1e-6, [p.detach() for p in params])
    expect_close(
        total, want_total, why or "clip_grad_norm returns the total norm even when nothing is clipped",
        rtol=1e-10, atol=1e-14,
    )  # fmt: skip
    exact = [nn.Parameter(torch.zeros(2, dtype=torch.float64)), nn.Parameter(torch.zeros(3, dtype=torch.float64))]
    exact[0].grad = torch.tensor([3.0, 4.0], dtype=torch.float64)  # a global norm of exactly 5
    exact[1].grad = torch.zeros(3, dtype=torch.float64)
    total = as_float(clip_of(submission, exact, 5.0))
    expect(
        _equal(exact[0].grad, torch.tensor([3.0, 4.0], dtype=torch.float64)),
        "scaled the gradients although their norm is not above max_norm: at total == max_norm exactly nothing is "
        "clipped, the rule is total > max_norm (multiplying by max_norm / (total + eps) there would still shrink "
        "them by eps / max_norm)",
        f"gradients [3, 4] (norm 5) with max_norm = 5 became {exact[0].grad.tolist()}",
    )
    expect_close(total, 5.0, "clip_grad_norm returns the total norm even when nothing is clipped", rtol=1e-12, atol=0)


def test_returns_norm_before_clipping(submission):
    """the returned value is the global norm measured before clipping, not max_norm"""
    params = with_grads(torch.float64, seed=4)
    before = [p.grad.clone() for p in params]
    want = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params])))
    expect(want > 0.5, "grader self-check: the case must need clipping")
    weights = float(torch.linalg.vector_norm(torch.cat([p.detach().flatten() for p in params])))
    total = as_float(clip_of(submission, params, 0.5))
    if math.isclose(total, 0.5, rel_tol=1e-4):
        why = "returns the norm after clipping: return the total norm measured before scaling, the number worth logging"
    elif math.isclose(total, weights, rel_tol=1e-6):
        why = "clip_grad_norm measured the parameters' values, not their gradients: the norm is of p.grad"
    else:
        why = diagnose_clip(total, [p.grad for p in params], before, 0.5, 1e-6, [p.detach() for p in params])
        why = why or "clip_grad_norm returns the total norm of the gradients measured before clipping"
    expect_close(total, want, why, rtol=1e-10, atol=1e-14)


def test_parameters_as_generator(submission):
    """model.parameters() is a generator: it is read once, and every gradient is still clipped"""
    torch_params = with_grads(torch.float64, seed=5)
    want_total = torch_clip(torch_params, 0.3)
    params = with_grads(torch.float64, seed=5)
    before = [p.grad.clone() for p in params]
    total = clip_of(submission, (p for p in params), 0.3)
    grads = [p.grad for p in params]
    if all(_equal(g, b) for g, b in zip(grads, before)):
        raise Misconception(
            "a generator can be iterated only once: model.parameters() is a generator, so a second loop over "
            "`parameters` sees nothing and no gradient gets scaled. Collect the gradients in a list first",
            "given a generator, no gradient changed although the global norm exceeds max_norm",
        )
    expect_clipped(
        total, params, want_total, [p.grad for p in torch_params], before, 0.3, 1e-6, torch.float64,
        "given a generator of parameters, clip_grad_norm differs from torch's",
    )  # fmt: skip


def test_parameters_without_grad_are_skipped(submission):
    """parameters whose .grad is None are left out of the norm and keep grad None"""
    case = clip_case(submission, torch.float64, 0.5, seed=6, none=(1, 2))
    params = case[1]
    expect(
        params[1].grad is None and params[2].grad is None,
        "clip_grad_norm gave a gradient to a parameter that had none: leave p.grad None as it is",
    )
    expect_clipped(
        *case, 0.5, 1e-6, torch.float64,
        "with some parameters without a gradient, clip_grad_norm differs from torch's: skip them in the norm",
    )  # fmt: skip


def test_no_gradients_at_all(submission):
    """when no parameter has a gradient, clip_grad_norm returns 0.0 and changes nothing"""
    params = with_grads(torch.float64, seed=7, none=(0, 1, 2, 3))
    why = (
        "with no gradients at all the total norm is 0.0 (a sum over nothing), as torch returns: torch.stack, "
        "torch.cat or torch.sqrt of an empty list or of the int 0 raise, so handle that case first"
    )
    try:
        result = clip_of(submission, params, 1.0)
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - any crash on an empty list reads the same way
        raise Misconception(why, f"{type(e).__name__}: {e}{learner_line(e, submission)}") from None
    expect_close(as_float(result), 0.0, why, rtol=0, atol=0)
    expect(all(p.grad is None for p in params), "clip_grad_norm gave a gradient to a parameter that had none")


def test_eps_in_the_scale(submission):
    """the scale is max_norm / (total + eps), with the eps argument, 1e-6 by default"""
    for eps in (None, 0.5):
        used = 1e-6 if eps is None else eps
        # tiny gradients: total ~ 1e-3, so the default eps changes the scale by ~1e-3 relative
        case = clip_case(submission, torch.float64, 1e-4, eps=eps, seed=8, scales=(1e-3, 1e-4, 2e-4, 1e-5))
        expect_clipped(
            *case, 1e-4, used, torch.float64,
            f"the scale factor is max_norm / (total + eps) with eps = {used}"
            + (" (the default)" if eps is None else " (passed as eps=0.5)"),
        )


def test_clip_in_place_leaves_values_alone(submission):
    """the gradients are scaled in place (the same tensors), and the parameters' values do not change"""
    params = with_grads(torch.float64, seed=9)
    grads = [p.grad for p in params]
    values = [p.detach().clone() for p in params]
    clip_of(submission, params, 0.1)
    expect(
        all(p.grad is g for p, g in zip(params, grads)),
        "scale the gradients in place (p.grad.mul_(scale)): code that holds a gradient tensor (a logger, a "
        "gradient bucket, GradScaler) must see the clipped values, and a copy per tensor costs memory",
        "p.grad is a different tensor after clip_grad_norm",
    )
    expect(
        all(_equal(p.detach(), v) for p, v in zip(params, values)),
        "clip_grad_norm changed the parameters' values: it scales the gradients only",
    )


def test_clip_properties(submission):
    """for generated gradients and max_norm, the returned norm and the clipped gradients equal torch's"""
    grads_strategy = st.lists(
        st.tuples(st.integers(1, 6), st.floats(-4, 3)),  # (size of a 1-D gradient, log10 of its scale)
        min_size=1, max_size=5,
    )  # fmt: skip

    @PROPERTY
    @given(grads_strategy, st.floats(-3, 2), st.integers(0, 2**16))
    def clip(spec, log_max, seed):
        max_norm = 10.0**log_max
        shapes, scales = [(n,) for n, _ in spec], [10.0**e for _, e in spec]
        ours = with_grads(torch.float64, scales, seed, shapes)
        want_total = float(torch_clip(ours, max_norm))
        want = [p.grad for p in ours]
        params = with_grads(torch.float64, scales, seed, shapes)
        before = [p.grad.clone() for p in params]
        total = as_float(clip_of(submission, params, max_norm))
        grads = [p.grad for p in params]
        what = f"gradient norms {shapes_of(norms(before))}, max_norm {max_norm:.4g}"
        why = diagnose_clip(total, grads, before, max_norm, 1e-6, [p.detach() for p in params])
        expect(
            math.isclose(total, want_total, rel_tol=1e-9) and all(torch.allclose(g, w, 1e-9, 1e-300) for g, w in zip(grads, want)),
            why or "clip_grad_norm differs from torch.nn.utils.clip_grad_norm_",
            f"{what}: returned {total:.6g} (torch {want_total:.6g}); norms after {shapes_of(norms(grads))}, torch "
            f"{shapes_of(norms(want))}",
        )

    clip()
