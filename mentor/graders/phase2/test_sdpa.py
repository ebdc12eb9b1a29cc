"""Grader: scaled dot-product attention, softmax(q kᵀ / sqrt(d_k)) v, against F.scaled_dot_product_attention."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from mentor.grading.expect import as_array, expect, expect_close, expect_shape

# Bound before any learner code runs: test_written_from_matmuls swaps the name inside F.
torch_sdpa = F.scaled_dot_product_attention

# float64 throughout: a correct formula differs from PyTorch's only in summation order, about
# 1e-16 relative, so 1e-9 accepts any correct implementation, while a wrong scale or softmax axis
# moves the outputs by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
# An attention weight the mask forbids must be exactly 0 (e^-inf); 1e-12 only forgives rounding.
ZERO = 1e-12

FORMULA = (
    "attention is softmax(q kᵀ / sqrt(d_k)) v: scores (B, H, T, S) = q @ k.transpose(-2, -1) / sqrt(d_k), "
    "a softmax over the keys (the last axis), then @ v"
)


def rand(B=2, H=3, T=5, S=5, Dh=8, seed=0):
    """q (B, H, T, Dh), k (B, H, S, Dh), v (B, H, S, Dh) in float64, from a fixed seed."""
    torch.manual_seed(seed)
    q = torch.randn(B, H, T, Dh, dtype=torch.float64)
    k = torch.randn(B, H, S, Dh, dtype=torch.float64)
    v = torch.randn(B, H, S, Dh, dtype=torch.float64)
    return q, k, v


def identity_values(q, k):
    """v = the (S, S) identity for every batch and head: the output rows are then the attention weights."""
    B, H, S = k.shape[0], k.shape[1], k.shape[2]
    return torch.eye(S, dtype=q.dtype).repeat(B, H, 1, 1)  # (B, H, S, S)


def some_masked(T, S, seed=0):
    """A (T, S) bool mask, True where query t may attend to key s; every query keeps at least key 0."""
    torch.manual_seed(seed)
    mask = torch.rand(T, S) < 0.5
    mask[:, 0] = True
    return mask


def test_matches_torch_sdpa(submission, reference):
    """the output equals F.scaled_dot_product_attention, with as many or more keys than queries"""
    for T, S in ((5, 5), (3, 7)):
        q, k, v = rand(T=T, S=S)
        want = torch_sdpa(q, k, v)
        expect_close(
            reference.scaled_dot_product_attention(q, k, v),
            want,
            "the reference disagrees with PyTorch: a course bug, please report it",
        )
        got = submission.scaled_dot_product_attention(q, k, v)
        expect_shape(
            got,
            want.shape,
            f"attention of q (B, H, T, Dh) with k and v (B, H, S, Dh) returns (B, H, T, Dh) (here T={T}, S={S})",
        )
        expect_close(got, want, f"{FORMULA} (T={T} queries, S={S} keys)", rtol=RTOL, atol=ATOL)
    if torch.cuda.is_available():  # the same formula on the GPU, in float32
        q, k, v = (t.float().cuda() for t in rand(seed=1))
        want = torch_sdpa(q, k, v).cpu()
        got = submission.scaled_dot_product_attention(q, k, v)
        # float32 on a GPU: fused kernels and matmuls agree to about 1e-6 on values of size 1
        expect_close(got, want, f"{FORMULA} (on the GPU, float32)", rtol=1e-4, atol=1e-5)


def test_scores_scaled_by_inverse_sqrt_dk(submission, reference):
    """the scores are divided by sqrt(d_k), no more and no less, before the softmax"""
    q, k = rand(B=1, H=2, T=4, S=8, Dh=16, seed=2)[:2]
    v = identity_values(q, k)
    want = reference.scaled_dot_product_attention(q, k, v)  # (1, 2, 4, 8): the attention weights
    got = submission.scaled_dot_product_attention(q, k, v.clone())
    weights, want = as_array(got, "scaled_dot_product_attention"), as_array(want)
    if weights.shape != want.shape or np.allclose(weights, want, rtol=RTOL, atol=ATOL):
        return  # right, or a shape problem that test_matches_torch_sdpa reports
    # Which factor did the learner put in front of q kᵀ? Softmax weights at one temperature s
    # satisfy log w_j - log w_0 = s (raw_j - raw_0); fit s, then check that it explains every weight.
    raw = as_array(q @ k.transpose(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        dlog = np.log(weights) - np.log(weights[..., :1])
    draw = raw - raw[..., :1]
    if not np.isfinite(dlog).all():
        return  # weights of 0 or nan: not a matter of scale, other tests say what it is
    s = float((dlog * draw).sum() / (draw * draw).sum())
    explained = np.exp(s * raw - (s * raw).max(-1, keepdims=True))
    explained /= explained.sum(-1, keepdims=True)
    if not np.allclose(weights, explained, rtol=1e-6, atol=1e-9):
        return  # not a softmax over the keys at any temperature: other tests say what it is
    d_k = q.shape[-1]
    if math.isclose(s, 1.0, rel_tol=1e-3):
        why = (
            f"the scores are not scaled: divide q kᵀ by sqrt(d_k) (here sqrt({d_k}) = {math.sqrt(d_k):g}) before the "
            "softmax. A dot product of d_k random terms grows like sqrt(d_k), so unscaled scores push the softmax "
            "towards a one-hot and its gradients towards zero"
        )
    elif math.isclose(s, 1.0 / d_k, rel_tol=1e-3):
        why = (
            f"the scores are divided by d_k instead of sqrt(d_k) (here by {d_k} instead of {math.sqrt(d_k):g}): the "
            "dot product's standard deviation is sqrt(d_k), so that is the factor that brings it back to about 1"
        )
    else:
        why = f"the scores are multiplied by {s:.4g} before the softmax; the factor is 1/sqrt(d_k) = {d_k**-0.5:g} here"
    expect(
        False,
        why,
        f"d_k = {d_k}: your weights are softmax({s:.4g} · q kᵀ), expected softmax({1 / math.sqrt(d_k):g} · q kᵀ)",
    )


def test_softmax_over_keys(submission):
    """each query's attention weights over the keys sum to 1, so v of all ones gives outputs of exactly 1"""
    for T, S in ((6, 6), (3, 7)):
        q, k, v = rand(T=T, S=S, seed=3)
        ones = torch.ones_like(v)
        want = torch.ones(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)  # a weighted average of ones
        got = submission.scaled_dot_product_attention(q, k, ones)
        expect_close(
            got, want,
            "softmax over the wrong axis: each query's weights over the keys, the last axis of the (B, H, T, S) "
            "scores, must sum to 1 (softmax(dim=-1)). Then the output is a weighted average of the values, and "
            f"v of all ones must give exactly 1 everywhere (here T={T} queries, S={S} keys)",
            rtol=RTOL, atol=ATOL,
        )  # fmt: skip


def test_masked_keys_get_no_weight(submission, reference):
    """a key the mask marks False gets exactly zero weight"""
    q, k = rand(T=6, S=6, seed=4)[:2]
    v, mask = identity_values(q, k), some_masked(6, 6)
    want = as_array(reference.scaled_dot_product_attention(q, k, v, mask=mask))
    expect(
        np.abs(want[..., ~mask.numpy()]).max() <= ZERO,
        "the reference gives masked keys weight: a course bug, please report it",
    )
    weights = as_array(
        submission.scaled_dot_product_attention(q, k, v.clone(), mask=mask.clone()), "scaled_dot_product_attention"
    )
    expect_shape(weights, want.shape, "attention with a mask returns (B, H, T, Dv), like without one")
    forbidden, allowed = np.abs(weights[..., ~mask.numpy()]), np.abs(weights[..., mask.numpy()])
    if forbidden.max() > ZERO and allowed.max() <= ZERO:
        why = (
            "the mask is inverted: True marks the keys a query MAY attend to (as in F.scaled_dot_product_attention), "
            "so the scores to hide are those where the mask is False: fill where ~mask"
        )
    else:
        why = (
            "masked keys still get weight: fill their scores with -inf before the softmax, so that e^-inf = 0. "
            "A score of 0 is not a mask, it still gets weight e^0 = 1 before normalising"
        )
    expect(
        forbidden.max() <= ZERO, why,
        f"largest weight on a masked key: {forbidden.max():.4g} (the mask hides {int((~mask).sum())} of {mask.numel()})",
    )  # fmt: skip


def test_mask_applied_before_softmax(submission):
    """with a mask, the weights of the keys a query may see still sum to 1"""
    q, k, v = rand(T=6, S=6, seed=5)
    mask = some_masked(6, 6, seed=5)
    want = torch.ones_like(v)  # a weighted average of ones, whatever the mask hides
    got = submission.scaled_dot_product_attention(q, k, torch.ones_like(v), mask=mask)
    expect_close(
        got, want,
        "the mask is applied after the softmax: zeroing weights afterwards leaves each query's weights summing to "
        "less than 1. Mask the scores (fill with -inf) before the softmax, so the keys that remain share all the "
        "weight; with v of all ones every output must be exactly 1",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


def test_mask_matches_torch(submission, reference):
    """with a (T, S) mask or a (B, 1, 1, S) one, the output equals F.scaled_dot_product_attention's"""
    q, k, v = rand(T=5, S=6, seed=6)
    padding = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    padding[1, ..., 4:] = False  # the second sequence is two keys shorter
    for name, mask in (("(T, S)", some_masked(5, 6, seed=6)), ("(B, 1, 1, S)", padding)):
        want = torch_sdpa(q, k, v, attn_mask=mask)
        expect_close(
            reference.scaled_dot_product_attention(q, k, v, mask=mask),
            want,
            "the reference disagrees with PyTorch: a course bug, please report it",
        )
        got = submission.scaled_dot_product_attention(q, k, v, mask=mask)
        expect_close(
            got, want,
            f"with a {name} bool mask your attention differs from F.scaled_dot_product_attention(attn_mask=mask): "
            "the mask broadcasts against the (B, H, T, S) scores, and where it is False the score becomes -inf "
            "before the softmax (masked_fill broadcasts for you)",
            rtol=RTOL, atol=ATOL,
        )  # fmt: skip


def test_inputs_unchanged(submission):
    """q, k, v and the mask are the same after the call as before"""
    q, k, v = rand(seed=7)
    mask = some_masked(5, 5, seed=7)
    before = [t.clone() for t in (q, k, v, mask)]
    submission.scaled_dot_product_attention(q, k, v, mask=mask)
    changed = [name for name, t, b in zip("q k v mask".split(), (q, k, v, mask), before) if not torch.equal(t, b)]
    expect(
        not changed,
        "your attention modified its inputs in place (q /= ..., q.mul_(...), mask.logical_not_()): the caller still "
        "needs them (in multi-head attention they are views of one projection). Write `q / math.sqrt(d_k)` or "
        "scale the scores instead",
        f"changed by the call: {', '.join(changed)}",
    )


def test_written_from_matmuls(submission, monkeypatch):
    """the attention is computed from q @ kᵀ, a softmax and @ v, not by calling PyTorch's fused version"""
    calls = []

    def tripwire(*args, **kwargs):
        calls.append(1)
        return torch_sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", tripwire)
    q, k, v = rand(seed=8)
    submission.scaled_dot_product_attention(q, k, v, mask=some_masked(5, 5, seed=8))
    expect(
        not calls,
        "your attention calls F.scaled_dot_product_attention: this step asks you to write it yourself, from "
        "q @ k.transpose(-2, -1), the 1/sqrt(d_k) scale, the mask, a softmax and @ v (the grader compares with "
        "PyTorch's version for you)",
    )
