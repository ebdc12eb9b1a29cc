"""Grader: flash attention backward, an autograd.Function that recomputes the weights tile by tile
from the saved lse, against autograd through F.scaled_dot_product_attention."""

import math

import torch
import torch.nn.functional as F
from torch.autograd.gradcheck import GradcheckError, gradcheck

from mentor.grading.expect import expect, expect_close, expect_equal, expect_shape

# Bound before any learner code runs.
torch_sdpa = F.scaled_dot_product_attention
saved_tensors_hooks = torch.autograd.graph.saved_tensors_hooks
# Tiles are small: threads cost more to wake per operation than they save, and on a busy machine a
# tiled loop ran 10x slower with two threads than with one. No budget here measures time.
torch.set_num_threads(1)

# float64: a correct tiled backward differs from autograd through PyTorch's attention only in
# summation order (~1e-15), so 1e-9 accepts every correct one, while a lost factor, a swapped pair
# or a missing term moves gradients by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
# Gradients that must vanish: only float64 rounding (~1e-16 per term) is forgiven.
ZERO = 1e-12

RULES = (
    "recompute each tile's weights P = exp(s - lse) from q, k and the saved lse, then dV += Pᵀ dO, "
    "dP = dO Vᵀ, dS = P ∘ (dP - D_i) with D_i = rowsum(dO ∘ O), dQ += dS K / sqrt(D), dK += dSᵀ Q / sqrt(D)"
)


def rand(B=2, H=2, T=6, S=6, D=8, seed=0, dtype=torch.float64):
    """q (B, H, T, D), k and v (B, H, S, D) and a gradient for the output, from their own generator."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, n, D, generator=g, dtype=torch.float64).to(dtype) for n in (T, S, S))
    dout = torch.randn(B, H, T, D, generator=g, dtype=torch.float64).to(dtype)
    return q, k, v, dout


def truth(q, k, v, dout, causal=False):
    """(out, dq, dk, dv) in float64 by autograd through F.scaled_dot_product_attention."""
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v)]
    out = torch_sdpa(*leaves, is_causal=causal)
    grads = torch.autograd.grad(out, leaves, dout.double())
    return (out.detach(), *grads)


def learner(submission, q, k, v, dout, causal=False, block_q=64, block_k=64, blocks=True):
    """(out, dq, dk, dv) from the learner's flash_attention on fresh leaf copies of q, k, v."""
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    kwargs = dict(block_q=block_q, block_k=block_k) if blocks else {}
    out = submission.flash_attention(*leaves, causal=causal, **kwargs)
    what = f"got {type(out).__name__}"
    expect(isinstance(out, torch.Tensor), "flash_attention returns the output tensor (B, H, T, D)", what)
    expect(
        out.requires_grad,
        "the output of flash_attention does not require grad: return FlashAttentionFunction.apply(q, k, v, ...), "
        "not its forward called directly or a result computed under torch.no_grad()",
    )
    out.backward(dout)
    grads = [t.grad for t in leaves]
    missing = [n for n, g in zip(("dq", "dk", "dv"), grads) if g is None]
    expect(
        not missing,
        "backward returns (dq, dk, dv, None, None, None): one gradient per input, None for causal and the block sizes",
        f"no gradient reached: {', '.join(missing)}",
    )
    return (out.detach(), *grads)


def f64(t):
    return t.detach().double()


def close(got, want, rtol=RTOL, atol=ATOL):
    """For diagnosis only (the verdict is expect_close's): same shape and allclose."""
    got = f64(got)
    return got.shape == want.shape and bool(torch.allclose(got, want.double(), rtol=rtol, atol=atol))


def ratio(got, want):
    """The factor c that best explains got ≈ c · want (least squares), or nan."""
    got, want = f64(got), want.double()
    if got.shape != want.shape or not torch.isfinite(got).all():
        return float("nan")
    return float((got * want).sum() / (want * want).sum().clamp_min(1e-300))


def where(T, S, block_q, block_k, causal=False):
    return f"T={T}, S={S}, block_q={block_q}, block_k={block_k}" + (", causal" if causal else "")


def diagnose(got, want, one_tile, D, at):
    """Why each of (dq, dk, dv) is wrong, read from the values: {name: message}."""
    names = ("dq", "dk", "dv")
    why = {n: f"{n} differs from autograd through PyTorch's attention ({at}): {RULES}" for n in names}
    (gq, gk, gv), (wq, wk, wv) = got, want
    if close(gk, wv) and close(gv, wk):
        msg = (
            f"dk and dv are swapped ({at}): dV = Pᵀ dO is the gradient of the values (it weights dO by the attention), "
            "dK = dSᵀ Q / sqrt(D) that of the keys (it comes through the scores)"
        )
        return {"dq": why["dq"], "dk": msg, "dv": msg}
    for n, g, w in zip(names, got, want):
        if close(g, w):
            continue
        c = ratio(g, w)
        if n != "dv" and math.isclose(c, math.sqrt(D), rel_tol=1e-6) and close(g, w * math.sqrt(D)):
            why[n] = (
                f"{n} is sqrt(D) = {math.sqrt(D):g} times too large ({at}): the 1/sqrt(D) is missing. The scores are "
                f"s = q kᵀ / sqrt(D), so the chain rule multiplies dS by 1/sqrt(D) on the way back to q and to k"
            )
        elif n != "dv" and math.isclose(c, 1 / math.sqrt(D), rel_tol=1e-6) and close(g, w / math.sqrt(D)):
            why[n] = f"{n} is divided by sqrt(D) twice ({at}): apply 1/sqrt(D) once, to dS K (dq) and dSᵀ Q (dk)"
        elif one_tile is not None and close(one_tile[names.index(n)], w):
            why[n] = (
                f"{n} is right with one tile and wrong with several ({at}): the tiles' parts do not add up. Each "
                f"tile only adds its share, so accumulate with += into a zero-initialised {n} (every key tile adds to "
                "dq of its query block, every query block to dk and dv of its key tile); anything summed over a row, "
                "like D_i, must cover the whole row and not one tile; and slice the tiles up to min(j0 + block_k, S)"
            )
    return why


def expect_gradients(submission, q, k, v, dout, causal, bq, bk):
    T, S, D = q.size(-2), k.size(-2), q.size(-1)
    at = where(T, S, bq, bk, causal)
    want = truth(q, k, v, dout, causal)
    got = learner(submission, q, k, v, dout, causal, bq, bk)
    forward_wrong = f"the output of flash_attention must still be attention ({at}): fix p3.flash.forward first"
    expect_close(f64(got[0]), want[0], forward_wrong, rtol=RTOL, atol=ATOL)
    for g, w, n in zip(got[1:], want[1:], ("dq", "dk", "dv")):
        expect_shape(f64(g), w.shape, f"{n} has the shape of its input ({at})")
    why = {n: "" for n in ("dq", "dk", "dv")}
    if not all(close(g, w) for g, w in zip(got[1:], want[1:])):
        one = learner(submission, q, k, v, dout, causal, T + S, T + S)[1:]
        why = diagnose(got[1:], want[1:], one, D, at)
    for g, w, n in zip(got[1:], want[1:], ("dq", "dk", "dv")):
        expect_close(f64(g), w, why[n] or f"{n} must equal autograd's ({at})", rtol=RTOL, atol=ATOL)


def test_flash_attention_is_an_autograd_function(submission):
    """flash_attention returns FlashAttentionFunction.apply(...): its output's grad_fn is your Function's backward"""
    q, k, v, dout = rand(T=7, S=7, seed=1)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out = submission.flash_attention(*leaves, causal=True, block_q=4, block_k=4)
    expect(
        isinstance(submission.FlashAttentionFunction, type) and issubclass(submission.FlashAttentionFunction, torch.autograd.Function),
        "FlashAttentionFunction must subclass torch.autograd.Function, with static forward(ctx, ...) and backward(ctx, dout)",
    )
    node = getattr(out, "grad_fn", None)
    expect(
        node is not None and type(node).__name__ == "FlashAttentionFunctionBackward",
        "flash_attention must return FlashAttentionFunction.apply(q, k, v, causal, block_q, block_k): then your "
        "backward runs. Here the output's gradient comes from elsewhere (autograd recording the tiled loop, which "
        "keeps every tile's weights alive, or no graph at all)",
        f"out.grad_fn is {type(node).__name__ if node is not None else None}",
    )
    want = truth(q, k, v, dout, causal=True)[0]
    why = "flash_attention's output must be attention: fix p3.flash.forward first (T=7, causal)"
    expect_close(f64(out), want, why, rtol=RTOL, atol=ATOL)


def test_gradients_match_autograd(submission):
    """dq, dk, dv equal autograd's through PyTorch's attention, over many tiles, T != S, blocks of 1 and larger than T"""
    for T, S, bq, bk, seed in ((13, 21, 4, 8, 2), (8, 8, 16, 16, 3), (1, 9, 1, 4, 4), (10, 10, 3, 3, 5), (12, 5, 5, 2, 6)):
        q, k, v, dout = rand(T=T, S=S, seed=seed)
        expect_gradients(submission, q, k, v, dout, False, bq, bk)


def test_causal_gradients_match_autograd(submission):
    """with the causal mask, dq, dk, dv equal autograd's, T = 1 and uneven blocks included"""
    for T, bq, bk, seed in ((17, 4, 8, 7), (17, 8, 4, 8), (6, 6, 6, 9), (9, 1, 1, 10), (1, 2, 2, 11), (20, 7, 5, 12)):
        q, k, v, dout = rand(T=T, S=T, seed=seed)
        expect_gradients(submission, q, k, v, dout, True, bq, bk)


def test_causal_future_keys_get_no_gradient(submission):
    """causal: a loss on the outputs up to position t gives keys and values after t exactly zero gradient"""
    T, t = 20, 9
    q, k, v, dout = rand(T=T, S=T, seed=13)
    dout[:, :, t + 1 :] = 0  # only the outputs at positions <= t matter
    want = truth(q, k, v, dout, causal=True)
    _, dq, dk, dv = learner(submission, q, k, v, dout, True, 4, 4)
    why = (
        f"the causal mask is missing in your backward: with a loss on positions <= {t} only, keys and values after "
        f"{t} must get exactly zero gradient, because no query <= {t} sees them. Recompute each score tile with the "
        "same mask as the forward (-inf where key j > query i, global positions) so that exp(s - lse) is 0 there"
    )
    expect_close(f64(dk)[:, :, t + 1 :], torch.zeros_like(want[2][:, :, t + 1 :]), why, rtol=0, atol=ZERO)
    expect_close(f64(dv)[:, :, t + 1 :], torch.zeros_like(want[3][:, :, t + 1 :]), why, rtol=0, atol=ZERO)
    why = f"queries after {t} get no gradient either: their dO is 0"
    expect_close(f64(dq)[:, :, t + 1 :], torch.zeros_like(want[1][:, :, t + 1 :]), why, rtol=0, atol=ZERO)


def test_softmax_backward_subtracts_d_i(submission):
    """when every value vector is the same, out does not depend on q or k, so dq and dk are exactly 0"""
    for causal in (False, True):
        q, k, v, dout = rand(T=12, S=12, seed=14)
        v = v[:, :, :1].expand_as(v).contiguous()  # v_j = u for every key j: out_i = u whatever the weights
        want = truth(q, k, v, dout, causal)
        _, dq, dk, dv = learner(submission, q, k, v, dout, causal, 4, 4)
        at = f"T=S=12, block_q=block_k=4{', causal' if causal else ''}"
        zero = torch.zeros_like(want[1])
        why = (
            f"with every value vector equal, out is that vector whatever q and k are, so dq and dk must be 0 ({at})"
        )
        if not close(dq, zero, 0, 1e-10):
            # With v_j = u, dP_ij = dO_i · u for every j; dropping D_i leaves dS = P dP, so dq = (P K)(dO·u)/sqrt(D).
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
            if causal:
                scores = scores.masked_fill(torch.ones(12, 12, dtype=torch.bool).triu(1), float("-inf"))
            no_d = (torch.softmax(scores, dim=-1) @ k) * (dout * v[:, :, :1]).sum(-1, keepdim=True) / math.sqrt(q.size(-1))
            one_tile = learner(submission, q, k, v, dout, causal, 4, 64)[1]
            if close(dq, no_d, 1e-6, 1e-9):
                why = (
                    f"the D_i term is missing ({at}): your dS is P ∘ dP. The softmax's Jacobian subtracts each row's "
                    "weighted mean, dS = P ∘ (dP - D_i); without D_i, values that are all equal (out independent of "
                    "q and k) still give dq and dk"
                )
            elif close(one_tile, zero, 0, 1e-10):
                why = (
                    f"D_i is summed over one tile only ({at}): right with a single key tile, wrong with three. D_i = "
                    "Σ_j P_ij dP_ij runs over the whole row, every key tile, and equals dO_i · O_i: compute it once "
                    "per query row before the key loop, from the saved out and dout"
                )
            else:
                why = (
                    f"D_i is not Σ_j P_ij dP_ij ({at}): the sum must be taken with the weights P, over the whole row, "
                    "and a plain row sum of dP is a different number. That weighted sum equals dO_i · O_i, computed "
                    "once per row from the saved out and dout"
                )
        elif not close(dk, zero, 0, 1e-10):
            why = (
                f"your dk is not 0 although dq is ({at}): both come from dS, which vanishes here. Is the tensor you "
                "return as dk really dSᵀ Q / sqrt(D), and not Pᵀ dO (dv's)?"
            )
        expect_close(f64(dq), zero, why, rtol=0, atol=1e-10)
        expect_close(f64(dk), torch.zeros_like(want[2]), why, rtol=0, atol=1e-10)


def test_dv_uses_normalised_weights(submission):
    """Σ_j dV_j = Σ_i dO_i, because each row of the weights sums to 1"""
    for causal in (False, True):
        q, k, v, dout = rand(T=14, S=14, seed=15)
        want = truth(q, k, v, dout, causal)
        _, _, dk, dv = learner(submission, q, k, v, dout, causal, 4, 4)
        total = f64(dv).sum(-2)  # (B, H, D): Σ over the keys
        why = (
            "the weights in your dV = Pᵀ dO are not normalised: each row of P sums to 1, so summing dV over the keys "
            "must give dO summed over the queries, and yours does not. Recompute P = exp(s - lse) with the saved "
            "lse (log of the whole row's sum), not exp(s - m) or exp(s)" + (" (causal)" if causal else "")
        )
        if close(total, torch.zeros_like(total), 0, 1e-9) and close(dk.double().sum(-2), want[3].sum(-2), RTOL, 1e-10):
            why = (
                "your dv sums to 0 over the keys, as dk does (each row of dS sums to 0), and your dk sums to Σ_i dO_i, "
                "as dv should: dk and dv are swapped"
            )
        expect_close(total, want[3].sum(-2), why, rtol=RTOL, atol=1e-10)


def test_gradcheck_float64(submission):
    """torch.autograd.gradcheck: your backward agrees with finite differences of your forward (float64, tiny sizes)"""
    for causal in (False, True):
        q, k, v, _ = rand(B=1, H=2, T=5, S=5, D=3, seed=16)
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        try:
            ok = gradcheck(
                lambda a, b, c: submission.flash_attention(a, b, c, causal=causal, block_q=2, block_k=3),
                leaves, eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=True,
            )  # fmt: skip
            detail = ""
        except GradcheckError as e:
            ok, detail = False, str(e).splitlines()[0]
        expect(
            ok,
            f"gradcheck fails{' (causal)' if causal else ''}: your backward's gradients disagree with the finite "
            f"differences of your own forward. {RULES}",
            detail,
        )


def test_float32_gradients(submission):
    """float32: gradients in float32, within float32 precision of a float64 truth, over 96 positions"""
    for causal in (False, True):
        q, k, v, dout = rand(B=2, H=2, T=96, S=96, D=16, seed=17, dtype=torch.float32)
        want = truth(q, k, v, dout, causal)
        _, dq, dk, dv = learner(submission, q, k, v, dout, causal, 32, 16)
        for n, g, w in zip(("dq", "dk", "dv"), (dq, dk, dv), want[1:]):
            expect_equal(str(g.dtype), "torch.float32", f"{n} comes back in its input's dtype, float32")
            # float32 sums over 96 keys: ~1e-6 relative; a wrong term costs 1e-2.
            expect_close(f64(g), w, f"{n} in float32{' (causal)' if causal else ''}: {RULES}", rtol=1e-4, atol=1e-5)


def test_bfloat16_gradients(submission):
    """bfloat16 inputs: gradients come back in bfloat16, computed in float32"""
    q, k, v, dout = rand(B=1, H=2, T=40, S=40, D=16, seed=18, dtype=torch.bfloat16)
    want = truth(q, k, v, dout, causal=True)
    _, dq, dk, dv = learner(submission, q, k, v, dout, True, 16, 8)
    for n, g, w in zip(("dq", "dk", "dv"), (dq, dk, dv), want[1:]):
        expect_equal(str(g.dtype), "torch.bfloat16", f"{n} comes back in its input's dtype, bfloat16")
        # The forward's out is rounded to bfloat16 before D_i = rowsum(dO ∘ O), and the result once more:
        # ~1% of the gradient's size; a wrong term or scale costs 30% or more.
        expect_close(
            f64(g), w, f"{n} for bfloat16 inputs: compute in float32 (upcast each tile), return bfloat16. {RULES}",
            rtol=2**-6, atol=0.03 * float(w.abs().mean()),
        )  # fmt: skip


def _tensors_in(value, depth=0):
    """Every tensor inside value (a tensor, or lists, tuples, dicts of them)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if depth < 3 and isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item, depth + 1)]
    if depth < 3 and isinstance(value, dict):
        return [t for item in value.values() for t in _tensors_in(item, depth + 1)]
    return []


def test_saves_no_score_matrix(submission):
    """between forward and backward only O((T + S)·D) numbers are kept: q, k, v, out, lse, no (T, S) weights"""
    B, H, T, S, D = 1, 2, 64, 64, 4
    q, k, v, dout = rand(B=B, H=H, T=T, S=S, D=D, seed=19)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    saved = []

    def pack(t):
        saved.append(("saved", tuple(t.shape), t.numel()))
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        out = submission.flash_attention(*leaves, causal=True, block_q=16, block_k=16)
    node = getattr(out, "grad_fn", None)
    for name, value in sorted(vars(node).items() if hasattr(node, "__dict__") else []):
        saved += [(f"ctx.{name}", tuple(t.shape), t.numel()) for t in _tensors_in(value)]
    total = sum(n for _, _, n in saved)
    limit = B * H * T * S  # one number per (query, key) pair: the matrix flash attention never keeps
    listing = ", ".join(f"{w} {s}" for w, s, _ in saved[:8]) + (f" and {len(saved) - 8} more" if len(saved) > 8 else "")
    expect(
        total < limit,
        f"a (T, S) matrix, or every tile's weights, is saved for backward: the tensors kept between forward and "
        f"backward hold {total} numbers, and T·S per head is already {limit} (B={B}, H={H}, T=S={T}, D={D}). Save only "
        "q, k, v, out and lse (ctx.save_for_backward) and recompute each tile's weights in backward from exp(s - lse)",
        f"kept: {listing}",
    )
    want = truth(q, k, v, dout, causal=True)
    out.backward(dout)
    expect_close(f64(leaves[0].grad), want[1], f"dq after the saved-tensor check (T=S={T}, causal): {RULES}", rtol=RTOL, atol=ATOL)


def test_memory_grows_linearly_in_T(submission, budget):
    """forward and backward together: peak memory grows like T, not like a (T, T) matrix"""
    g = torch.Generator().manual_seed(20)
    inputs = {}
    for T in (512, 1024):
        q, k, v, dout = (torch.randn(1, 4, T, 32, generator=g) for _ in range(4))
        inputs[T] = ([t.requires_grad_() for t in (q, k, v)], dout)

    def run_at(T):
        leaves, dout = inputs[T]  # made before the measurement: only the work is counted

        def work():
            out = submission.flash_attention(*leaves, block_q=128, block_k=128)
            torch.autograd.grad(out, leaves, dout)  # the gradients are new tensors each time, freed after

        return work

    budget.memory_scaling(
        run_at, 512,
        why="the backward's peak memory grows faster than T: doubling T should double the gradients and leave one "
        "tile of weights, but yours grows like a (T, T) matrix. The backward must walk the tiles as the forward "
        "does, recomputing exp(s - lse) per tile: not the whole score matrix at once, and not autograd run again "
        "over a naive attention",
    )  # fmt: skip


def test_inputs_unchanged(submission):
    """q, k, v and the output's gradient are the same after forward and backward"""
    q, k, v, dout = rand(T=16, S=16, seed=21, dtype=torch.float32)
    before = [t.clone() for t in (q, k, v, dout)]
    leaves = [t.requires_grad_() for t in (q, k, v)]
    out = submission.flash_attention(*leaves, causal=True, block_q=8, block_k=4)
    out.backward(dout)
    changed = [n for n, t, b in zip(("q", "k", "v", "dout"), (q, k, v, dout), before) if not torch.equal(t.detach(), b)]
    expect(
        not changed,
        "your flash attention changed its inputs in place during forward or backward (a slice scaled with *=, "
        "dout.mul_(...)): a slice is a view of the caller's tensor, and .float() of a float32 tensor is the "
        "tensor itself. Compute new tensors instead",
        f"changed: {', '.join(changed)}",
    )


def test_two_calls_keep_their_own_settings(submission):
    """two outputs alive at once, with different masks and block sizes, each backpropagate with their own"""
    q1, k1, v1, d1 = rand(T=12, S=12, seed=22)
    q2, k2, v2, d2 = rand(T=7, S=9, seed=23)
    want1, want2 = truth(q1, k1, v1, d1, causal=True), truth(q2, k2, v2, d2, causal=False)
    first = [t.clone().requires_grad_() for t in (q1, k1, v1)]
    second = [t.clone().requires_grad_() for t in (q2, k2, v2)]
    out1 = submission.flash_attention(*first, causal=True, block_q=4, block_k=8)
    out2 = submission.flash_attention(*second, causal=False, block_q=16, block_k=2)
    out1.backward(d1)  # the first call's backward runs after the second call's forward
    out2.backward(d2)
    why = (
        "the first call's backward used the second call's settings: causal and the block sizes belong on ctx "
        "(ctx.causal = causal in forward), one per call, not on the class or in a global, which the next call overwrites"
    )
    alone = learner(submission, q1, k1, v1, d1, True, 4, 8)[1]
    if close(alone, want1[1]) and not close(first[0].grad, want1[1]):
        expect_close(f64(first[0].grad), want1[1], why, rtol=RTOL, atol=ATOL)
    for n, leaf, w in zip(("dq", "dk", "dv"), first, want1[1:]):
        expect_close(f64(leaf.grad), w, f"{n} of the first of two calls (causal, T=12): {RULES}", rtol=RTOL, atol=ATOL)
    for n, leaf, w in zip(("dq", "dk", "dv"), second, want2[1:]):
        expect_close(f64(leaf.grad), w, f"{n} of the second of two calls (T=7, S=9): {RULES}", rtol=RTOL, atol=ATOL)


def test_default_block_sizes_and_partial_grads(submission):
    """without block sizes (64 each), T = 300 spans five blocks; only q needing a gradient works too"""
    q, k, v, dout = rand(B=1, H=2, T=300, S=300, D=8, seed=24)
    want = truth(q, k, v, dout, causal=True)
    _, dq, dk, dv = learner(submission, q, k, v, dout, causal=True, blocks=False)
    for n, g, w in zip(("dq", "dk", "dv"), (dq, dk, dv), want[1:]):
        expect_close(f64(g), w, f"{n} with the default block sizes (T=300, causal): {RULES}", rtol=RTOL, atol=ATOL)
    leaf = q.clone().requires_grad_()
    out = submission.flash_attention(leaf, k, v, causal=True)
    out.backward(dout)
    expect(leaf.grad is not None, "with only q requiring a gradient, backward must still give dq")
    expect_close(f64(leaf.grad), want[1], f"dq when k and v need no gradient: {RULES}", rtol=RTOL, atol=ATOL)
