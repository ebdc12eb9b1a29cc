"""Grader: token embedding lookup, a gather of rows equal to one_hot(ids) @ weight."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from mentor.grading.budget import expect_within_ratio
from mentor.grading.expect import as_array, expect, expect_close, expect_equal

NOT_A_PARAMETER = (
    "the table is not a trainable parameter: wrap it in nn.Parameter and assign it to self.weight, "
    "so that module.parameters() (and so the optimizer) sees it and autograd fills weight.grad"
)
TABLE_SHAPE = (
    "weight must be (vocab_size, d_model): one row per token id, so that ids index its first axis. "
    "A (d_model, vocab_size) table is its transpose, and the output layer will later share this "
    "very (V, d) matrix (weight tying)"
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)  # both sides of the speed budget on one core: steadier medians


def table_of(module, shape):
    """The learner's table, checked to be a registered nn.Parameter of `shape` so tests can fill it."""
    weight = getattr(module, "weight", None)
    expect(isinstance(weight, nn.Parameter), NOT_A_PARAMETER, f"self.weight is a {type(weight).__name__}")
    got = tuple(weight.shape)
    expect_equal(got, tuple(shape), TABLE_SHAPE, f"weight.shape: got {got}, expected {tuple(shape)}")
    return weight


def embedding_with(submission, table):
    """The learner's TokenEmbedding holding `table` (V, d) as its weight."""
    emb = submission.TokenEmbedding(*table.shape)
    with torch.no_grad():
        table_of(emb, table.shape).copy_(table)
    return emb


class LargestTensor(TorchFunctionMode):
    """Sees every torch function the code calls, and records the largest storage any of them returns."""

    def __init__(self):
        super().__init__()
        self.nbytes, self.op = 0, ""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().nbytes() > self.nbytes:
                self.nbytes, self.op = t.untyped_storage().nbytes(), getattr(func, "__name__", str(func))
        return out


def test_weight_is_a_registered_parameter(submission, reference):
    """the table is an nn.Parameter of shape (vocab_size, d_model) that module.parameters() yields"""
    torch.manual_seed(0)
    want = [tuple(p.shape) for p in reference.TokenEmbedding(100, 16).parameters()]
    emb = submission.TokenEmbedding(100, 16)
    weight = table_of(emb, (100, 16))
    params = list(emb.parameters())
    expect(
        any(p is weight for p in params), NOT_A_PARAMETER,
        f"module.parameters() yields shapes {[tuple(p.shape) for p in params]}, expected {want}",
    )  # fmt: skip


def test_init_scale(submission, reference):
    """the table starts as N(0, 0.02²) noise, GPT-2's initialisation"""
    torch.manual_seed(0)
    ref_std = float(reference.TokenEmbedding(1000, 64).weight.detach().std())
    torch.manual_seed(0)
    weight = table_of(submission.TokenEmbedding(1000, 64), (1000, 64)).detach()
    std, mean = float(weight.std()), float(weight.mean())
    # 64,000 samples: the sample std is within 1% of 0.02 and the mean within 3e-4 of 0 (4 sigma),
    # while torch.randn (std 1), zeros or uniform [0, 1) are far outside.
    expect(
        abs(std - 0.02) < 0.002 and abs(mean) < 3e-4,
        "initialise the table from a normal distribution with mean 0 and std 0.02: std 1 (plain "
        "torch.randn, nn.Embedding's default) makes token vectors as large as everything that is added "
        "to them later, and an all-zero table gives every token the same vector",
        f"your table: mean {mean:.4g}, std {std:.4g}; the reference's std: {ref_std:.4g}",
    )  # fmt: skip


@pytest.mark.parametrize("vocab_size,d_model", [(65, 128), (1000, 16)], ids=["V<d", "V>d"])
def test_output_shape(submission, reference, vocab_size, d_model):
    """forward maps ids (B, T) to (B, T, d_model), for small and large vocabularies"""
    torch.manual_seed(0)
    ids = torch.randint(0, vocab_size, (2, 5))
    want = tuple(reference.TokenEmbedding(vocab_size, d_model)(ids).shape)
    got = tuple(as_array(submission.TokenEmbedding(vocab_size, d_model)(ids.clone()), "forward").shape)
    expect(
        vocab_size not in got or got == want,
        "the output has an axis of size vocab_size: you indexed the wrong axis of weight. Token ids "
        "pick ROWS (the first axis, weight[ids]); indexing the columns reads one number of every token",
        f"forward(ids of shape (2, 5)) has shape {got}, expected {want}",
    )  # fmt: skip
    expect_equal(
        got,
        want,
        "forward(ids) must return (B, T, d_model): the ids' own (B, T) layout, then one d_model-vector "
        "per id. Do not flatten the batch, and do not move d_model before T",
        f"forward(ids of shape (2, 5)) has shape {got}, expected {want}",
    )  # fmt: skip


def test_lookup_equals_one_hot_matmul(submission, reference):
    """forward(ids)[b, t] is row ids[b, t] of the table, the same as one_hot(ids) @ weight"""
    torch.manual_seed(0)
    V, d = 50, 12
    table = torch.randn(V, d)
    ids = torch.tensor([[0, 7, 7, 49, 3], [49, 0, 12, 12, 12]])  # the first and last rows, and repeats
    independent = F.one_hot(ids, V).to(table.dtype) @ table  # (B, T, V) @ (V, d): fine at this size
    want = embedding_with(reference, table)(ids)
    got = embedding_with(submission, table)(ids.clone())
    # A lookup copies rows bit for bit; atol 1e-7 only admits a matmul that adds exact zeros.
    why = "forward(ids)[b, t] must be row ids[b, t] of weight, exactly what one_hot(ids) @ weight computes"
    expect_close(want, independent, "the reference disagrees with one_hot @ W: a course problem, please report it")
    expect_close(got, want, why, rtol=0, atol=1e-7)
    if torch.cuda.is_available():
        on_gpu = embedding_with(submission, table).cuda()(ids.cuda())
        expect_close(on_gpu, want, why + " (on the GPU: keep every tensor on the weight's device)", rtol=0, atol=1e-7)


def test_no_one_hot_tensor(submission, reference):
    """forward never builds a (B, T, V) tensor: a lookup is a gather, not a one-hot matmul"""
    torch.manual_seed(0)
    V, d, B, T = 5000, 8, 8, 16
    table, ids = torch.randn(V, d), torch.randint(0, V, (B, T))
    ref_emb, emb = embedding_with(reference, table), embedding_with(submission, table)
    with LargestTensor() as ref_seen:
        ref_emb(ids)
    with LargestTensor() as seen:
        emb(ids.clone())
    # The reference's largest new tensor is its (B, T, d) output, 4 KB; a (B, T, V) one-hot is at
    # least B·T·V = 640 KB even as booleans, while a copy of the whole (V, d) table is 160 KB.
    expect(
        seen.nbytes < B * T * V,
        "forward built a (B, T, V) tensor, the one-hot matrix: mathematically right, but it costs V/d "
        "times the memory of the output and a full matmul. Gather the rows instead: weight[ids]",
        f"largest tensor created: {seen.nbytes:,} bytes by {seen.op}; a (B, T, V) bool tensor is "
        f"{B * T * V:,} bytes; the reference's largest: {ref_seen.nbytes:,} bytes",
    )  # fmt: skip


def test_lookup_speed(submission, reference):
    """forward costs about as much as gathering B·T rows: within 20x of the reference"""
    torch.manual_seed(0)
    V, d, B, T = 8192, 256, 8, 256
    table, ids = torch.randn(V, d), torch.randint(0, V, (B, T))
    ref_emb, emb = embedding_with(reference, table), embedding_with(submission, table)
    # weight[ids], index_select and F.embedding all land within 5x of each other here; a one-hot
    # matmul does 2·B·T·V·d = 8.6 GFLOP and is hundreds of times slower.
    expect_within_ratio(
        lambda: emb(ids), lambda: ref_emb(ids), 20.0,
        "forward is far slower than a lookup: multiplying a one-hot (B, T, V) matrix by weight does "
        "V times more work than copying B·T rows. Index the table with the ids instead",
    )  # fmt: skip


def test_gradient_reaches_only_used_rows(submission, reference):
    """weight.grad holds, in each row, the sum of the gradients of the positions that read it; unused rows stay 0"""
    torch.manual_seed(0)
    V, d = 10, 4
    table = torch.randn(V, d)
    ids = torch.tensor([[3, 7, 3, 0], [7, 7, 1, 3]])  # row 3 and row 7 are read three times each
    upstream = torch.randn(2, 4, d)
    independent = torch.zeros(V, d).index_add_(0, ids.reshape(-1), upstream.reshape(-1, d))
    ref_emb = embedding_with(reference, table)
    (ref_emb(ids) * upstream).sum().backward()
    want = ref_emb.weight.grad
    expect_close(want, independent, "the reference's gradient disagrees with index_add: a course problem, please report it")
    emb = embedding_with(submission, table)
    out = emb(ids.clone())
    no_gradient = (
        "no gradient reached weight: the lookup must stay in autograd's graph, so read the Parameter "
        "itself, not weight.data, weight.detach() or a NumPy copy"
    )
    expect(getattr(out, "requires_grad", False), no_gradient, "forward's output does not require grad")
    (out * upstream).sum().backward()
    expect(emb.weight.grad is not None, no_gradient, "weight.grad is None after backward()")
    expect_close(
        emb.weight.grad, want,
        "weight.grad must hold, in row v, the sum of the upstream gradients of every position whose id "
        "is v (a repeated id adds up), and exactly 0 in rows no position read",
    )  # fmt: skip
