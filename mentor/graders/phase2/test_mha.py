"""Grader: multi-head attention, with heads split and merged by view / transpose / contiguous."""

import math

import pytest
import torch
import torch.nn as nn

from mentor.grading.expect import Misconception, as_array, expect, expect_close, expect_shape
from mentor.grading.torch_checks import copy_weights, expect_earlier_step_agrees

# float64: the module and the head-by-head loop below do the same arithmetic in a different order
# (~1e-16 relative); mixing up positions, heads or a projection moves outputs by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
B, T, C, H = 2, 5, 12, 3
DH = C // H
LAYERS = (
    "MultiHeadAttention needs self.qkv = nn.Linear(d_model, 3 * d_model) (q | k | v, in that order along its "
    "output) and self.proj = nn.Linear(d_model, d_model): the grader loads weights by these names"
)


def rand(*shape, seed=0):
    torch.manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64)


def with_weights(module, reference_module):
    """`module` carrying `reference_module`'s weights, in float64; a clear message if the layers differ."""
    expect(
        isinstance(module, nn.Module), "MultiHeadAttention must be an nn.Module (class MultiHeadAttention(nn.Module))"
    )
    try:
        copy_weights(module, reference_module)
    except RuntimeError as e:
        raise Misconception(LAYERS, str(e).strip().splitlines()[-1].strip()) from None
    return module


def modules(submission, reference, causal, seed=0):
    """(learner's module, reference module) with the same random weights, random biases included."""
    torch.manual_seed(seed)
    ref = reference.MultiHeadAttention(C, H, causal=causal).double()
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(0.3 * torch.randn_like(p))  # biases too, so that forgetting one shows
    return with_weights(submission.MultiHeadAttention(C, H, causal=causal), ref), ref


def head_by_head(x, mha, causal, scale=None):
    """Multi-head attention written out plainly: one head at a time, channels h·Dh to (h+1)·Dh - 1."""
    W, b = mha.qkv.weight, mha.qkv.bias
    q, k, v = (x @ W[i * C : (i + 1) * C].T + b[i * C : (i + 1) * C] for i in range(3))  # (B, T, C) each
    scale = scale or 1 / math.sqrt(DH)
    heads = []
    for h in range(H):
        cols = slice(h * DH, (h + 1) * DH)
        scores = q[..., cols] @ k[..., cols].transpose(1, 2) * scale  # (B, T, T)
        if causal:
            later = torch.arange(T)[None, :] > torch.arange(T)[:, None]  # key j after query t
            scores = scores.masked_fill(later, float("-inf"))
        heads.append(torch.softmax(scores, dim=-1) @ v[..., cols])  # (B, T, Dh)
    return torch.cat(heads, dim=-1) @ mha.proj.weight.T + mha.proj.bias  # (B, T, C)


@pytest.fixture
def reference_helpers(submission, reference, monkeypatch):
    """Your MultiHeadAttention calls the reference's attention and head functions while a test runs, so
    that the test grades the module's own code; the functions are graded by the tests above."""
    for name in ("scaled_dot_product_attention", "causal_mask", "causal_attention", "split_heads", "merge_heads"):
        monkeypatch.setattr(submission, name, getattr(reference, name))


def test_your_attention_agrees(submission, reference):
    """the attention this step builds on (p2.attention.sdpa and p2.attention.causal) matches the reference"""
    q, k, v = (rand(B, H, T, DH, seed=s) for s in (1, 2, 3))
    mask = torch.rand(T, T) < 0.5
    mask[:, 0] = True
    checks = (
        ("scaled_dot_product_attention", "p2.attention.sdpa", (q, k, v), {"mask": mask}),
        ("causal_attention", "p2.attention.causal", (q, k, v), {}),
    )

    def yours_and_reference(name, args, kwargs):
        want = getattr(reference, name)(*args, **kwargs)  # the reference runs first
        return getattr(submission, name)(*args, **kwargs), want

    for name, step, args, kwargs in checks:
        expect_earlier_step_agrees(
            name, step,
            lambda: yours_and_reference(name, args, kwargs),
            "Meanwhile the other tests of this step run your MultiHeadAttention on the reference's attention",
            f"on (B, H, T, Dh) = {tuple(q.shape)}",
        )  # fmt: skip


def test_split_heads_keeps_positions(submission, reference):
    """split_heads gives head h the channels h·Dh to (h+1)·Dh - 1 of every position, positions in order"""
    x = rand(B, T, C, seed=4)
    want = torch.stack([x[..., h * DH : (h + 1) * DH] for h in range(H)], dim=1)  # (B, H, T, Dh)
    expect_close(
        reference.split_heads(x, H),
        want,
        "the reference split_heads is wrong: a course bug, please report it",
        rtol=0,
        atol=0,
    )
    got = submission.split_heads(x.clone(), H)
    expect_shape(
        got, (B, H, T, DH), f"split_heads turns (B, T, C) into (B, H, T, Dh): here {(B, T, C)} -> {(B, H, T, DH)}"
    )
    expect_close(
        got, want,
        "split_heads mixes positions: memory holds x as (B, T, C), so a plain view(B, H, T, Dh) cuts through "
        "the positions, and one 'head' gets pieces of several tokens. view(B, T, H, Dh) first, which only cuts "
        "each token's channels, then transpose(1, 2)",
        rtol=0, atol=0,
    )  # fmt: skip


def test_merge_heads_copes_with_transposed_memory(submission, reference):
    """merge_heads works on the (B, H, T, Dh) output of attention, whose transpose view cannot flatten"""
    y = rand(B, H, T, DH, seed=5)  # contiguous, as attention returns it
    want = reference.merge_heads(y)
    try:
        submission.merge_heads(y.clone())
    except NotImplementedError:
        raise
    except RuntimeError as e:
        expect(
            "view" not in str(e),
            "merge_heads calls .view on a non-contiguous tensor: after transpose(1, 2) the (B, T, H, Dh) order "
            "exists only in the strides, not in memory, and view cannot flatten H and Dh into C without a copy. "
            "Call .contiguous() after the transpose (or use .reshape, which copies when it must)",
            f"your code raised RuntimeError: {e}",
        )
        raise
    expect_shape(want, (B, T, C), "the reference merge_heads is wrong: a course bug, please report it")


def test_merge_heads_inverts_split(submission, reference):
    """merge_heads puts head h back into channels h·Dh to (h+1)·Dh - 1 of each position"""
    y = rand(B, H, T, DH, seed=6)
    want = torch.cat([y[:, h] for h in range(H)], dim=-1)  # (B, T, C): the heads side by side
    expect_close(
        reference.merge_heads(y),
        want,
        "the reference merge_heads is wrong: a course bug, please report it",
        rtol=0,
        atol=0,
    )
    got = submission.merge_heads(y.clone())
    expect_shape(got, (B, T, C), f"merge_heads turns (B, H, T, Dh) into (B, T, C): here {(B, H, T, DH)} -> {(B, T, C)}")
    expect_close(
        got, want,
        "merge_heads mixes heads and positions: a reshape straight to (B, T, C) flattens memory in the (B, H, T, Dh) "
        "order, so one token gets pieces of other tokens. transpose(1, 2) back to (B, T, H, Dh) first, then merge "
        "the last two axes",
        rtol=0, atol=0,
    )  # fmt: skip


def test_layers_and_shapes(submission, reference, reference_helpers):
    """the module holds the fused qkv and the proj layers, and maps (B, T, C) to (B, T, C)"""
    mha, _ = modules(submission, reference, causal=False)
    for name, shape in (("qkv", (3 * C, C)), ("proj", (C, C))):
        layer = getattr(mha, name, None)
        expect(isinstance(layer, nn.Linear), LAYERS, f"self.{name} is {type(layer).__name__}, expected nn.Linear")
        expect_shape(layer.weight, shape, f"{LAYERS} (self.{name}.weight has the wrong shape)")
    for t in (1, T, 7):
        expect_shape(
            mha(rand(3, t, C, seed=t)),
            (3, t, C),
            f"MultiHeadAttention maps (B, T, C) to (B, T, C), for any T (here T={t})",
        )


def test_matches_head_by_head(submission, reference, reference_helpers):
    """without causal masking, the output equals attention computed one head at a time"""
    mha, ref = modules(submission, reference, causal=False, seed=7)
    x = rand(B, T, C, seed=8)
    with torch.no_grad():
        want = head_by_head(x, ref, causal=False)
        expect_close(ref(x), want, "the reference MultiHeadAttention is wrong: a course bug, please report it")
        got = mha(x)
        expect_shape(got, (B, T, C), "MultiHeadAttention maps (B, T, C) to (B, T, C)")
        got_np, over_c = as_array(got), as_array(head_by_head(x, ref, causal=False, scale=1 / math.sqrt(C)))
    if over_c.shape == got_np.shape and abs(got_np - over_c).max() < 1e-9:
        why = (
            f"each head's scores must be divided by sqrt(Dh), the head's size (here sqrt({DH})), not by sqrt(d_model) "
            f"(sqrt({C})): a head's dot products have Dh terms"
        )
    else:
        why = (
            "MultiHeadAttention differs from attention computed head by head: q, k, v = qkv(x) split into three "
            "(B, T, C) tensors in that order, split_heads each, attention per head, merge_heads, then proj"
        )
    expect_close(got, want, why, rtol=RTOL, atol=ATOL)


def test_causal_heads(submission, reference, reference_helpers):
    """with causal=True every head masks later positions; with the default causal=False none does"""
    x = rand(B, T, C, seed=9)
    rule = {
        True: "every head must mask the keys after each query (causal_attention)",
        False: "no head may mask anything (plain scaled_dot_product_attention)",
    }
    for causal in (True, False):
        mha, ref = modules(submission, reference, causal=causal, seed=10)
        with torch.no_grad():
            want = head_by_head(x, ref, causal=causal)
            expect_close(ref(x), want, "the reference MultiHeadAttention is wrong: a course bug, please report it")
            got = mha(x)
        expect_close(
            got, want,
            f"with causal={causal}, {rule[causal]}: MultiHeadAttention(d_model, n_heads, causal) is causal exactly "
            "when asked",
            rtol=RTOL, atol=ATOL,
        )  # fmt: skip


def test_output_projection_applied(submission, reference, reference_helpers):
    """the merged heads go through self.proj: with proj's weight zeroed, every output equals proj's bias"""
    mha, ref = modules(submission, reference, causal=False, seed=11)
    bias = torch.linspace(-1, 1, C, dtype=torch.float64)
    with torch.no_grad():
        mha.proj.weight.zero_()
        mha.proj.bias.copy_(bias)
        got = mha(rand(B, T, C, seed=12))
    expect_close(
        got, bias.expand(B, T, C),
        "the output projection is missing: after merging the heads, apply self.proj (a d_model x d_model Linear). "
        "Without it each head writes only its own Dh channels and nothing mixes what the heads found",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip
