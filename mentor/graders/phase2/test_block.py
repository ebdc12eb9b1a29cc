"""Grader: the GELU MLP, SwiGLU, and the pre-norm residual transformer block."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.grading.expect import Misconception, as_array, expect, expect_close, expect_shape
from mentor.grading.torch_checks import copy_weights, expect_components_agree, learner_module, randomized

# float64: the learner's layers and the expressions below do the same arithmetic in a different
# order (~1e-16 relative); a wrong activation, branch or norm placement moves outputs by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
B, T, C, H = 2, 5, 8, 2


def rand(*shape, seed=0, scale=1.0):
    torch.manual_seed(seed)
    return scale * torch.randn(*shape, dtype=torch.float64)


def loaded(module, reference_module, why):
    """`module` in float64 carrying `reference_module`'s weights; `why` if its layers are named or sized otherwise."""
    expect(isinstance(module, nn.Module), why, f"got {type(module).__name__}, not an nn.Module")
    try:
        copy_weights(module, reference_module)
    except RuntimeError as e:
        raise Misconception(why, str(e).strip().splitlines()[-1].strip()) from None
    return module


MLP_LAYERS = (
    "MLP needs self.fc = nn.Linear(d_model, 4 * d_model) and self.proj = nn.Linear(4 * d_model, d_model): "
    "a 4x expansion, as in GPT-2"
)
SWIGLU_LAYERS = (
    "SwiGLU needs self.gate and self.up = nn.Linear(d_model, hidden, bias=False) and "
    "self.down = nn.Linear(hidden, d_model, bias=False)"
)
BLOCK_LAYERS = (
    "Block needs self.ln1 = nn.LayerNorm(d_model), self.attn = MultiHeadAttention(d_model, n_heads, causal=causal), "
    "self.ln2 = nn.LayerNorm(d_model) and self.mlp = MLP(d_model)"
)


@pytest.fixture
def reference_attention(submission, reference, monkeypatch):
    """Your Block builds the reference's MultiHeadAttention while a test runs, so that the test grades the
    block's own code; your attention is graded by test_your_attention_agrees."""
    monkeypatch.setattr(submission, "MultiHeadAttention", reference.MultiHeadAttention)


def mlp_expected(x, fc_w, fc_b, proj_w, proj_b, act):
    return act(x @ fc_w.T + fc_b) @ proj_w.T + proj_b


def test_your_attention_agrees(submission, reference):
    """the attention this step builds on (p2.attention.sdpa, .causal and .mha) matches the reference"""
    attention = learner_module(submission, "attention")
    # the reference's attention.py, through the class its block.py imported (it is kept out of sys.modules)
    ref_attention = SimpleNamespace(**reference.MultiHeadAttention.__init__.__globals__)
    torch.manual_seed(1)
    q, k, v = (torch.randn(B, H, T, C // H, dtype=torch.float64) for _ in range(3))
    x = rand(B, T, C, seed=1)
    components = (  # name, step, what to compute from a module, your module, the reference's
        ("scaled_dot_product_attention", "p2.attention.sdpa", lambda m: m.scaled_dot_product_attention(q, k, v), attention, ref_attention),
        ("causal_attention", "p2.attention.causal", lambda m: m.causal_attention(q, k, v), attention, ref_attention),
        ("MultiHeadAttention", "p2.attention.mha", lambda m: m.MultiHeadAttention(C, H, causal=True), attention, ref_attention),
    )  # fmt: skip
    expect_components_agree(
        components, x, "Meanwhile the other tests of this step run your Block on the reference's MultiHeadAttention"
    )


def test_mlp_expands_four_times(submission, reference):
    """the MLP's hidden layer is 4 x d_model wide: fc (4C, C) and proj (C, 4C)"""
    ref = reference.MLP(C)
    mlp = loaded(submission.MLP(C), ref, MLP_LAYERS)
    for name, shape in (("fc", (4 * C, C)), ("proj", (C, 4 * C))):
        expect_shape(getattr(mlp, name).weight, shape, f"{MLP_LAYERS} (self.{name}.weight has the wrong shape)")


def test_mlp_activation_is_tanh_gelu(submission, reference):
    """between fc and proj sits GPT-2's GELU (tanh form): negative inputs give small negative outputs"""
    eye, zeros = torch.eye(C, dtype=torch.float64), torch.zeros(3 * C, C, dtype=torch.float64)
    ref = reference.MLP(C).double()
    with torch.no_grad():  # fc copies x into the first C hidden units, proj reads them back: MLP(x) = act(x)
        ref.fc.weight.copy_(torch.cat([eye, zeros])), ref.fc.bias.zero_()
        ref.proj.weight.copy_(torch.cat([eye, zeros]).T), ref.proj.bias.zero_()
    x = torch.linspace(-4, 4, 2 * T * C, dtype=torch.float64).view(2, T, C)
    want = F.gelu(x, approximate="tanh")
    with torch.no_grad():
        expect_close(ref(x), want, "the reference MLP is not GELU: a course bug, please report it")
        got = as_array(loaded(submission.MLP(C), ref, MLP_LAYERS)(x))
    if got.shape == want.shape and np.allclose(got, as_array(torch.relu(x)), RTOL, ATOL):
        why = (
            "the MLP uses ReLU, not GELU: GELU(x) = x·Φ(x) is smooth and lets small negative values through "
            "(GELU(-1) ≈ -0.159), where ReLU cuts them to 0. Use nn.GELU(approximate='tanh')"
        )
    elif got.shape == want.shape and np.allclose(got, as_array(F.gelu(x)), RTOL, ATOL):
        why = (
            "the MLP uses the exact erf GELU (nn.GELU() with no argument): GPT-2 uses the tanh approximation, "
            "nn.GELU(approximate='tanh'), and the two differ by up to 5e-4, enough to drift from GPT-2's numbers"
        )
    else:
        why = (
            "between fc and proj the MLP applies GPT-2's tanh GELU, 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))), "
            "and nothing else"
        )
    expect_close(got, want, why, rtol=RTOL, atol=ATOL)


def test_mlp_matches_reference(submission, reference):
    """the MLP computes proj(gelu(fc(x))) with its biases"""
    ref = randomized(reference.MLP(C), seed=3)
    x = rand(B, T, C, seed=4)
    want = mlp_expected(
        x, ref.fc.weight, ref.fc.bias, ref.proj.weight, ref.proj.bias, lambda z: F.gelu(z, approximate="tanh")
    )
    with torch.no_grad():
        expect_close(ref(x), want, "the reference MLP is wrong: a course bug, please report it")
        got = loaded(submission.MLP(C), ref, MLP_LAYERS)(x)
    expect_shape(got, (B, T, C), "MLP maps (B, T, C) to (B, T, C): each position on its own")
    expect_close(
        got, want, "the MLP is proj(gelu(fc(x))): expand to 4·d_model, GELU, project back", rtol=RTOL, atol=ATOL
    )


def test_swiglu_gates_with_silu(submission, reference):
    """SwiGLU computes down(silu(gate(x)) * up(x)): the SiLU sits on the gate branch only"""
    hidden = 12
    ref = randomized(reference.SwiGLU(C, hidden), seed=5)
    x = rand(B, T, C, seed=6)
    gate, up = x @ ref.gate.weight.T, x @ ref.up.weight.T  # (B, T, hidden) each
    want = (F.silu(gate) * up) @ ref.down.weight.T
    with torch.no_grad():
        expect_close(ref(x), want, "the reference SwiGLU is wrong: a course bug, please report it")
        got = loaded(submission.SwiGLU(C, hidden), ref, SWIGLU_LAYERS)(x)
        swapped = as_array((gate * F.silu(up)) @ ref.down.weight.T)
    expect_shape(got, (B, T, C), "SwiGLU maps (B, T, C) to (B, T, C)")
    if np.allclose(as_array(got), swapped, RTOL, ATOL):
        why = (
            "the SiLU is on the wrong branch: it belongs on self.gate's output, which decides how much of each "
            "hidden unit passes; self.up's output is the value let through, untouched: down(silu(gate(x)) * up(x))"
        )
    else:
        why = (
            "SwiGLU is down(silu(gate(x)) * up(x)): two projections of x, SiLU on the gate one, multiplied "
            "elementwise, then down"
        )
    expect_close(got, want, why, rtol=RTOL, atol=ATOL)


def block_pair(submission, reference, seed, causal=False, zero_branches=False):
    """(learner's Block, reference Block) with the same weights; optionally both sublayers' outputs zeroed."""
    ref = randomized(reference.Block(C, H, causal=causal), seed=seed)
    if zero_branches:  # attention and MLP then add nothing: the block should pass x straight through
        ref.ln1.reset_parameters(), ref.ln2.reset_parameters()
        with torch.no_grad():
            for p in (*ref.attn.proj.parameters(), *ref.mlp.proj.parameters()):
                p.zero_()
    return loaded(submission.Block(C, H, causal=causal), ref, BLOCK_LAYERS), ref


def test_block_layers(submission, reference, reference_attention):
    """the block holds ln1 and ln2 as nn.LayerNorm(d_model), the attention and the MLP"""
    block, _ = block_pair(submission, reference, seed=7)
    for name in ("ln1", "ln2"):
        layer = getattr(block, name, None)
        expect(
            isinstance(layer, nn.LayerNorm),
            BLOCK_LAYERS,
            f"self.{name} is {type(layer).__name__}, expected nn.LayerNorm",
        )
    expect_shape(block(rand(B, T, C, seed=8)), (B, T, C), "Block maps (B, T, C) to (B, T, C)")


def test_sublayers_add_to_the_residual_stream(submission, reference, reference_attention):
    """each sublayer adds its output to x: when both output zero, the block returns x unchanged"""
    block, _ = block_pair(submission, reference, seed=9, zero_branches=True)
    x = rand(B, T, C, seed=10)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True)  # rows already normalized
    with torch.no_grad():
        got = block(x)
    # 1e-4: a LayerNorm of these already-normalized rows moves them by eps/2 ≈ 5e-6 relative; a
    # missing residual loses x entirely
    expect_close(
        got, x,
        "a residual connection is missing: each sublayer adds to the stream, x = x + attn(ln1(x)) and then "
        "x = x + mlp(ln2(x)). Writing x = attn(ln1(x)) throws x away, and with it the identity path that lets "
        "signals and gradients pass through a deep stack",
        rtol=0, atol=1e-4,
    )  # fmt: skip


def test_layernorm_inside_the_branches(submission, reference, reference_attention):
    """pre-norm: the LayerNorms normalize each sublayer's input, never the residual stream itself"""
    block, _ = block_pair(submission, reference, seed=11, zero_branches=True)
    x = rand(B, T, C, seed=12, scale=10.0) + 3.0  # rows far from mean 0 and std 1
    with torch.no_grad():
        got = as_array(block(x))
    if got.shape != x.shape or np.allclose(got, as_array(x), RTOL, ATOL):
        return
    normalized = np.allclose(got.mean(-1), 0, atol=1e-6) and np.allclose(got.std(-1), 1, atol=1e-3)
    expect(
        not normalized,
        "this is a post-norm block: the LayerNorm is applied to the residual stream (x = ln(x + attn(x))). "
        "Pre-norm, as in GPT-2, normalizes only the sublayer's input: x = x + attn(ln1(x)), x = x + mlp(ln2(x)), "
        "so the stream itself is never normalized and an identity path runs through every block",
        "with both sublayers outputting zero, your block returned rows of mean 0 and std 1 instead of x itself",
    )


def test_block_matches_reference(submission, reference, reference_attention):
    """the block computes x + attn(ln1(x)), then x + mlp(ln2(x)), with every weight random"""
    block, ref = block_pair(submission, reference, seed=13)
    x = rand(B, T, C, seed=14)
    with torch.no_grad():
        ln = lambda z, norm: F.layer_norm(z, (C,), norm.weight, norm.bias, norm.eps)  # noqa: E731
        gelu = lambda z: F.gelu(z, approximate="tanh")  # noqa: E731
        mid = x + ref.attn(ln(x, ref.ln1))
        want = mid + mlp_expected(
            ln(mid, ref.ln2), ref.mlp.fc.weight, ref.mlp.fc.bias, ref.mlp.proj.weight, ref.mlp.proj.bias, gelu
        )
        expect_close(ref(x), want, "the reference Block is wrong: a course bug, please report it")
        got = block(x)
    expect_close(
        got, want,
        "Block differs from the pre-norm block x = x + attn(ln1(x)); x = x + mlp(ln2(x)): check the order (attention "
        "first), that each sublayer reads its own LayerNorm's output, and that both add to x",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


def test_block_passes_causal_to_attention(submission, reference, reference_attention):
    """Block(..., causal=True) is causal, Block(...) by default is not"""
    x = rand(1, T, C, seed=15)
    later = x.clone()
    later[:, 2:] += rand(
        1, T - 2, C, seed=17
    )  # change positions 2 and later (not by a constant: LayerNorm removes those)
    for causal in (True, False):
        block, _ = block_pair(submission, reference, seed=16, causal=causal)
        with torch.no_grad():
            moved = as_array(block(later)[:, :2] - block(x)[:, :2])  # positions 0 and 1
        unchanged = np.abs(moved).max() <= 1e-12
        expect(
            unchanged == causal,
            "Block must hand its causal flag to its MultiHeadAttention: MultiHeadAttention(d_model, n_heads, "
            "causal=causal). A GPT builds causal blocks, an encoder non-causal ones",
            f"Block(causal={causal}): changing positions 2.. {'did not change' if unchanged else 'changed'} "
            "the outputs at positions 0 and 1",
        )
