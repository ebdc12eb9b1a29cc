"""Grader: the decoder-only GPT assembled from the learner's components, its loss and its parameter count."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.grading.expect import (
    Misconception,
    as_array,
    expect,
    expect_close,
    expect_equal,
    expect_self_check,
    expect_shape,
)
from mentor.grading.torch_checks import copy_weights, expect_components_agree, learner_module, randomized

# float64: the learner's model and the expressions below do the same arithmetic in a different
# order (~1e-16 relative); a missing LayerNorm, a wrong position or a leak moves logits by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
SMALL = dict(vocab_size=50, block_size=16, d_model=32, n_layers=2, n_heads=4)  # V != block_size on purpose
# Parameter counts worked out by hand with V·C + T·C + L·(12·C² + 13·C) + 2·C.
GPT2_SMALL = (dict(vocab_size=50257, block_size=1024, d_model=768, n_layers=12, n_heads=12), 124_439_808)
GPT_100M = (dict(vocab_size=16384, block_size=1024, d_model=768, n_layers=12, n_heads=12), 98_425_344)
SUBMODULES = (
    "GPT needs self.tok_emb = nn.Embedding(vocab_size, d_model), self.pos_emb = nn.Embedding(block_size, d_model), "
    "self.blocks = nn.ModuleList of n_layers Blocks, self.ln_f = nn.LayerNorm(d_model) and self.lm_head = "
    "nn.Linear(d_model, vocab_size, bias=False): the grader loads weights by these names"
)
PIPELINE = "tok_emb(idx) + pos_emb(arange(T)), then every block in order, then ln_f, then lm_head"


def reference_parts(reference):
    """The reference's block.py and attention.py, reached through the classes its gpt.py imported
    (the grader keeps the reference's modules out of sys.modules, where yours live)."""
    block = reference.Block.__init__.__globals__
    attention = block["MultiHeadAttention"].__init__.__globals__
    return SimpleNamespace(**attention), SimpleNamespace(**block)


def config(module, **fields):
    return module.GPTConfig(**{**SMALL, **fields})


def loaded(module, reference_module):
    """`module` in float64 carrying `reference_module`'s weights, or SUBMODULES when its layers differ."""
    expect(isinstance(module, nn.Module), "GPT must be an nn.Module (class GPT(nn.Module))")
    try:
        copy_weights(module, reference_module)
    except RuntimeError as e:
        raise Misconception(SUBMODULES, str(e).strip().splitlines()[-1].strip()) from None
    return module


def models(submission, reference, seed=0, **fields):
    """(learner's GPT, reference GPT) on the same random weights."""
    torch.manual_seed(seed)
    ref = randomized(reference.GPT(config(reference, **fields)), seed)
    return loaded(submission.GPT(config(submission, **fields)), ref), ref


def run(model, idx, targets=None):
    """model(idx, targets) as (logits, loss), with a clear message if forward returns something else."""
    out = model(idx, targets) if targets is not None else model(idx)
    expect(
        isinstance(out, tuple) and len(out) == 2,
        "GPT.forward returns a pair (logits, loss), with loss None when no targets are given",
        f"got {type(out).__name__}",
    )
    return out


def logits_by_hand(ref, idx):
    """The GPT's logits written out from the reference model's parts."""
    T = idx.shape[1]
    x = ref.tok_emb.weight[idx] + ref.pos_emb.weight[:T]  # (B, T, C)
    for block in ref.blocks:
        x = block(x)
    x = F.layer_norm(x, x.shape[-1:], ref.ln_f.weight, ref.ln_f.bias, ref.ln_f.eps)
    return x @ ref.tok_emb.weight.T  # (B, T, V): the tied head


def tokens(B, T, seed):
    torch.manual_seed(seed)
    return torch.randint(0, SMALL["vocab_size"], (B, T))


@pytest.fixture
def reference_block(submission, reference, monkeypatch):
    """Your GPT builds the reference's Block while a test runs, so the test grades the assembly in gpt.py;
    your own blocks are graded by test_your_components_agree."""
    monkeypatch.setattr(submission, "Block", reference.Block)


def test_your_components_agree(submission, reference):
    """the attention and blocks your GPT is built from (p2.attention.*) match the reference"""
    attention, block = learner_module(submission, "attention"), learner_module(submission, "block")
    ref_attention, ref_block = reference_parts(reference)
    C, H = 16, 4
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, H, 6, C // H, dtype=torch.float64) for _ in range(3))
    x = torch.randn(2, 6, C, dtype=torch.float64)
    components = (  # name, step, what to compute from a module, your module, the reference's
        ("scaled_dot_product_attention", "p2.attention.sdpa", lambda m: m.scaled_dot_product_attention(q, k, v), attention, ref_attention),
        ("causal_attention", "p2.attention.causal", lambda m: m.causal_attention(q, k, v), attention, ref_attention),
        ("MultiHeadAttention", "p2.attention.mha", lambda m: m.MultiHeadAttention(C, H, causal=True), attention, ref_attention),
        ("MLP", "p2.attention.block", lambda m: m.MLP(C), block, ref_block),
        ("Block", "p2.attention.block", lambda m: m.Block(C, H, causal=True), block, ref_block),
    )  # fmt: skip
    expect_components_agree(components, x, "Meanwhile the other tests of this step run your GPT on the reference's Block")


def test_embedding_tables(submission, reference, reference_block):
    """tok_emb has one row per token (vocab_size), pos_emb one row per position (block_size)"""
    V, T, C = SMALL["vocab_size"], SMALL["block_size"], SMALL["d_model"]
    expect_shape(
        reference.GPT(config(reference)).pos_emb.weight,
        (T, C),
        "the reference pos_emb is wrong: a course bug, please report it",
    )
    model = submission.GPT(config(submission))
    for name in ("tok_emb", "pos_emb"):
        layer = getattr(model, name, None)
        expect(
            isinstance(layer, nn.Embedding), SUBMODULES, f"self.{name} is {type(layer).__name__}, expected nn.Embedding"
        )
    expect_shape(
        model.tok_emb.weight,
        (V, C),
        f"tok_emb is nn.Embedding(vocab_size, d_model): one row per token id (here {V} x {C})",
    )
    expect_shape(
        model.pos_emb.weight, (T, C),
        f"pos_emb needs one row per position, block_size rows (here {T}), not one per token (vocab_size, here {V}): "
        "it is indexed by positions 0..T-1, never by token ids",
    )  # fmt: skip


def test_lm_head_is_tied(submission, reference, reference_block):
    """the LM head's weight is the token embedding's weight: one (V, C) parameter, counted once"""
    V, C = SMALL["vocab_size"], SMALL["d_model"]
    want = sum(p.numel() for p in reference.GPT(config(reference)).parameters())
    model = submission.GPT(config(submission))
    head, emb = getattr(model, "lm_head", None), getattr(model, "tok_emb", None)
    expect(isinstance(head, nn.Linear) and isinstance(emb, nn.Embedding), SUBMODULES)
    expect(
        head.weight is emb.weight,
        "the LM head is not tied to the token embedding: assign self.lm_head.weight = self.tok_emb.weight, so "
        f"one (vocab_size, d_model) matrix both reads tokens in and scores them out. Untied, the head adds "
        f"V·C = {V * C} parameters (38.6M of GPT-2's 124M)",
        "lm_head.weight is a different tensor from tok_emb.weight",
    )  # fmt: skip
    got = sum(p.numel() for p in model.parameters())  # parameters() yields a tied tensor once
    expect_equal(
        got,
        want,
        "the model's parameter count is off: lm_head has no bias (nn.Linear(d_model, vocab_size, bias=False)), "
        "and every layer has the size the docstring gives",
        f"sum(p.numel() for p in model.parameters()): got {got}, expected {want}",
    )


def test_logits_match_reference(submission, reference, reference_block):
    """logits are lm_head(ln_f(blocks(tok_emb(idx) + pos_emb(positions)))), for a full and a shorter context"""
    model, ref = models(submission, reference, seed=3)
    V = SMALL["vocab_size"]
    for T in (SMALL["block_size"], 5):
        idx = tokens(2, T, seed=T)
        with torch.no_grad():
            want = logits_by_hand(ref, idx)
            expect_close(run(ref, idx)[0], want, "the reference GPT is wrong: a course bug, please report it")
            logits, _ = run(model, idx)
        expect_shape(
            logits,
            (2, T, V),
            f"logits are (B, T, vocab_size): one score per vocabulary entry at every position (T={T})",
        )
        expect_close(
            logits,
            want,
            f"the logits differ from the GPT's pipeline, {PIPELINE} (T={T} of block_size {SMALL['block_size']})",
            rtol=RTOL,
            atol=ATOL,
        )
    if torch.cuda.is_available():  # positions must be made on idx's device
        model, idx = model.float().cuda(), tokens(2, 7, seed=4)
        with torch.no_grad():
            want = logits_by_hand(ref.float(), idx)
            logits, _ = run(model, idx.cuda())
        # float32 on a GPU through two blocks: about 1e-6 relative
        expect_close(
            logits,
            want,
            f"on the GPU the logits differ: make positions on idx.device (torch.arange(T, device=idx.device)); {PIPELINE}",
            rtol=1e-4,
            atol=1e-4,
        )


def test_final_layernorm_applied(submission, reference, reference_block):
    """ln_f normalizes the last block's output before the head: with its gain and bias zeroed, every logit is 0"""
    model, _ = models(submission, reference, seed=5)
    expect(isinstance(getattr(model, "ln_f", None), nn.LayerNorm), SUBMODULES, "self.ln_f should be an nn.LayerNorm")
    with torch.no_grad():
        model.ln_f.weight.zero_(), model.ln_f.bias.zero_()
        logits, _ = run(model, tokens(2, 8, seed=6))
    expect_close(
        logits, torch.zeros(2, 8, SMALL["vocab_size"], dtype=torch.float64),
        "the final LayerNorm is missing: pre-norm blocks add to a residual stream that is never normalized, so "
        "apply self.ln_f to the last block's output, right before lm_head (here ln_f's gain and bias were set to 0, "
        "so every logit should have been 0)",
        rtol=0, atol=ATOL,
    )  # fmt: skip


def test_future_tokens_do_not_change_past_logits(submission, reference, reference_block):
    """the whole model is causal: changing tokens after position t leaves the logits at positions <= t unchanged"""
    model, _ = models(submission, reference, seed=7)
    idx = tokens(1, 12, seed=8)
    with torch.no_grad():
        base = as_array(run(model, idx)[0])
        for t in (0, 4, 10):
            changed = idx.clone()
            changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % SMALL["vocab_size"]  # every later token is different
            moved = np.abs(as_array(run(model, changed)[0])[:, : t + 1] - base[:, : t + 1]).max()
            expect(
                moved <= ATOL,
                "the model is not causal: the logits at position t predict token t+1, so they may depend only on "
                "tokens 0..t, or training would let the model read the answer. Build every Block with causal=True",
                f"changing tokens {t + 1}..11 moved the logits at positions 0..{t} by up to {moved:.3g}",
            )


def test_loss_is_mean_cross_entropy(submission, reference, reference_block):
    """with targets, loss is the cross-entropy of the returned logits averaged over all B·T positions; without, None"""
    model, ref = models(submission, reference, seed=9)
    B, T, V = 3, 10, SMALL["vocab_size"]
    idx, targets = tokens(B, T, seed=10), tokens(B, T, seed=11)
    with torch.no_grad():
        ref_logits, ref_loss = run(ref, idx, targets)
        expect_close(
            ref_loss,
            F.cross_entropy(ref_logits.reshape(B * T, V), targets.reshape(B * T)),
            "the reference loss is wrong: a course bug, please report it",
        )
        flatten = (
            "the loss must see every position as one example: F.cross_entropy takes scores of shape (N, V) and "
            f"classes of shape (N,), so flatten logits to (B*T, V) and targets to (B*T,) (here ({B * T}, {V}) and "
            f"({B * T},)); given (B, T, V) it reads axis 1 as the classes"
        )
        try:
            logits, loss = run(model, idx, targets)
        except NotImplementedError:
            raise
        except (RuntimeError, ValueError, IndexError) as e:
            raise Misconception(flatten, f"your code raised {type(e).__name__}: {e}") from None
        expect_shape(
            logits, (B, T, V), "logits are (B, T, vocab_size): one score per vocabulary entry at every position"
        )
        # judged against your own logits, so that this test is about the loss alone
        want = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
        expect(
            isinstance(loss, torch.Tensor),
            "with targets, forward returns the loss as a tensor",
            f"got {type(loss).__name__}",
        )
        expect_shape(loss, (), f"{flatten} (the loss is one number, the mean over the batch and the positions)")
        expect_close(loss, want, flatten, rtol=RTOL, atol=ATOL)
        _, none = run(model, idx)
    expect(
        none is None,
        "without targets, forward returns (logits, None): there is nothing to compare with",
        f"got {type(none).__name__}",
    )


def test_count_parameters(submission, reference):
    """count_parameters(config) equals the number of distinct parameters of GPT(config)"""
    cases = [
        SMALL,
        dict(vocab_size=101, block_size=7, d_model=24, n_layers=3, n_heads=3),
        dict(vocab_size=1000, block_size=64, d_model=48, n_layers=1, n_heads=6),
    ]
    wanted = []
    for fields in cases:
        want = sum(p.numel() for p in reference.GPT(reference.GPTConfig(**fields)).parameters())
        expect_self_check(reference.count_parameters(reference.GPTConfig(**fields)), want, "the reference count")
        wanted.append((fields, want))
    for fields, want in (GPT2_SMALL, GPT_100M):  # too big to build here: counted by hand
        expect_self_check(reference.count_parameters(reference.GPTConfig(**fields)), want, "the reference count")
        wanted.append((fields, want))
    for fields, want in wanted:
        got = submission.count_parameters(submission.GPTConfig(**fields))
        expect(
            isinstance(got, (int, np.integer)) or (isinstance(got, float) and got.is_integer()),
            "count_parameters returns a whole number (an int)",
            f"got {got!r}",
        )
        V, C = fields["vocab_size"], fields["d_model"]
        if got - want == V * C:
            why = (
                "count_parameters counts the LM head's matrix again: it is tied to the token embedding, one "
                f"(vocab_size, d_model) tensor counted once (here the extra V·C = {V * C})"
            )
        else:
            why = (
                "count_parameters(config) must equal sum(p.numel() for p in GPT(config).parameters()): count every "
                "weight and bias of each block (two LayerNorms of 2·C, qkv C·3C + 3C, proj C·C + C, fc C·4C + 4C, "
                "mlp proj 4C·C + C), then the two embeddings and ln_f"
            )
        expect_equal(got, want, why, f"{fields}: got {got}, expected {want} (off by {got - want})")
