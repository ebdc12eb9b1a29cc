"""Grader: the sinusoidal positional table and GPT-2's learned positional embedding."""

import math

import numpy as np
import torch
import torch.nn as nn

from mentor.grading.expect import as_array, expect, expect_close, expect_equal

# The table is float32: an angle pos·ω of up to 100 rad carries a rounding error of about
# 100 · 6e-8 = 6e-6, and sin/cos add one more rounding. 2e-5 admits every float32 formulation
# (exp/log or pow, a precomputed ω or a division by base^(2i/d)) and rejects every wrong formula,
# whose errors are O(0.1) or more.
TABLE = dict(rtol=0, atol=2e-5)
_allclose = np.allclose  # bound before learner code runs
FORMULA = "PE[pos, 2i] = sin(pos·ω_i) and PE[pos, 2i+1] = cos(pos·ω_i), with ω_i = 1 / base^(2i/d_model)"
ROWS_DEPEND_ON_T = (
    "a position's row must not depend on T: sinusoidal_encoding(50)[:20] must equal sinusoidal_encoding(20). "
    "Use the raw position pos, not pos/T, so that a token keeps its encoding as the sequence grows"
)


def independent_table(T, d_model, base=10000.0):
    """The paper's formula in float64, one pair at a time."""
    pe = np.zeros((T, d_model))
    for pos in range(T):
        for i in range(d_model // 2):
            omega = 1.0 / base ** (2 * i / d_model)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(pos * omega), math.cos(pos * omega)
    return pe


def table(fn, T, d_model, base=10000.0):
    """A table as a float64 array, checked to be (T, d_model) first so that the tests can index it."""
    got = as_array(fn(T, d_model, base=base), "sinusoidal_encoding")
    expect_equal(
        got.shape,
        (T, d_model),
        "the table is (T, d_model): one row per position, the positions down the first axis",
        f"sinusoidal_encoding({T}, {d_model}) has shape {got.shape}, expected {(T, d_model)}",
    )
    return got.astype(np.float64)


def test_table_shape_and_dtype(submission, reference):
    """sinusoidal_encoding(T, d_model) is a float32 tensor of shape (T, d_model)"""
    want = reference.sinusoidal_encoding(10, 6)
    got = submission.sinusoidal_encoding(10, 6)
    table(lambda *a, **k: got, 10, 6)
    expect(
        isinstance(got, torch.Tensor) and got.dtype == want.dtype,
        "return a float32 torch tensor, the dtype of the token embeddings it is added to: a float64 "
        "table would silently turn every later activation into float64",
        f"got {type(got).__name__} of dtype {getattr(got, 'dtype', None)}, expected torch.float32",
    )


def test_hand_computed_values(submission, reference):
    """for d_model = 4, row pos is [sin(pos), cos(pos), sin(pos/100), cos(pos/100)]"""
    hand = np.array([[math.sin(p), math.cos(p), math.sin(p / 100), math.cos(p / 100)] for p in range(6)])
    want = reference.sinusoidal_encoding(6, 4)
    expect_close(want, hand, "the reference disagrees with the paper's formula: a course problem", **TABLE)
    got = table(submission.sinusoidal_encoding, 6, 4)
    expect_close(got, hand, f"wrong values for d_model = 4, where ω = (1, 1/100): {FORMULA}", **TABLE)


def expect_interleaved_sin_cos(row0, want):
    """Position 0 reads [sin 0, cos 0, ...] = [0, 1, 0, 1, ...] only with the paper's layout."""
    diff = f"PE[0] = {np.round(row0, 4).tolist()}, expected {np.round(as_array(want), 4).tolist()}"
    half = len(row0) // 2
    expect(
        not _allclose(row0, [1, 0] * half, atol=1e-6),
        "you put cos first: the even dims (0, 2, 4, ...) hold sin and the odd dims cos, so PE[0] = "
        "[sin 0, cos 0, ...] = [0, 1, 0, 1, ...]",
        diff,
    )
    expect(
        not _allclose(row0, [0] * half + [1] * half, atol=1e-6),
        "interleave the pairs: dim 2i holds the sine and dim 2i+1 the cosine of the same frequency, not "
        "all sines in the first half and all cosines in the second",
        diff,
    )
    expect(_allclose(row0, [0, 1] * half, **TABLE), f"PE[0] must be [0, 1, 0, 1, ...]: {FORMULA}", diff)


def test_even_dims_sin_odd_dims_cos(submission, reference):
    """even dims hold sines and odd dims cosines, interleaved: position 0 is [0, 1, 0, 1, ...]"""
    want = reference.sinusoidal_encoding(3, 8)[0]
    expect_interleaved_sin_cos(table(submission.sinusoidal_encoding, 3, 8)[0], want)


def test_frequencies(submission, reference):
    """pair i turns by ω_i = 1 / base^(2i/d_model) radians per position, for the base given"""
    d = 16
    for base in (10000.0, 100.0):
        want = 1.0 / base ** (np.arange(0, d, 2) / d)
        ref = table(reference.sinusoidal_encoding, 2, d, base)
        expect_close(np.arctan2(ref[1, 0::2], ref[1, 1::2]), want, "reference frequencies are wrong: a course problem")
        pe = table(submission.sinusoidal_encoding, 2, d, base)
        expect_interleaved_sin_cos(pe[0], ref[0])
        omega = np.arctan2(pe[1, 0::2], pe[1, 1::2])  # PE[1] holds (sin ω_i, cos ω_i) in pair i, ω_i ≤ 1
        if _allclose(omega, want / 2, **TABLE):
            expect(False, ROWS_DEPEND_ON_T, f"ω_i measured in a table of T = 2: {np.round(omega, 5).tolist()}")
        diff = f"ω_i measured from PE[1], base={base:g}: {np.round(omega, 5).tolist()}\nexpected: {np.round(want, 5).tolist()}"
        right = _allclose(omega, want, **TABLE)
        if base != 10000.0:
            expect(right, "your table ignores the base argument: ω_i = 1 / base^(2i/d_model) with the base given", diff)
        expect(
            right,
            "pair i must turn at ω_i = 1 / base^(2i/d_model) radians per position: the exponent is 2i/d_model, "
            "where i counts pairs and 2i is the dim of the pair's sine, not i/d_model",
            diff,
        )


def test_rows_depend_only_on_position(submission, reference):
    """a position's row is the same whatever the table's length T"""
    ref_short, ref_long = table(reference.sinusoidal_encoding, 20, 8), table(reference.sinusoidal_encoding, 50, 8)
    expect_close(ref_long[:20], ref_short, "reference rows depend on T: a course problem", **TABLE)
    short, long = table(submission.sinusoidal_encoding, 20, 8), table(submission.sinusoidal_encoding, 50, 8)
    expect_close(long[:20], short, ROWS_DEPEND_ON_T, **TABLE)


def test_positions_past_2048_keep_their_own_rows(submission, reference):
    """rows at positions past 2048 are as exact as the first ones (the positions are counted in float32)"""
    T = 2056
    want, got = table(reference.sinusoidal_encoding, T, 8), table(submission.sinusoidal_encoding, T, 8)
    # float16 counts exactly only to 2048: there 2049 rounds to 2048, and the rows of two positions agree
    # to 1e-3 at most, far outside TABLE's 2e-5; a float32 count is exact to 16.7 million.
    expect_close(
        got[2040:], want[2040:],
        "count the positions in float32 (torch.arange(T, dtype=torch.float32)): float16 holds whole numbers "
        "exactly only up to 2048, so past it neighbouring positions round to the same value and share a row",
        **TABLE,
    )  # fmt: skip


def test_shift_is_a_rotation(submission, reference):
    """PE(pos + k) is PE(pos) rotated by k times the pair's own angle step: a linear function of PE(pos)"""
    T, d = 64, 16
    ref = table(reference.sinusoidal_encoding, T, d)
    expect_close(ref, independent_table(T, d), "reference is wrong: a course problem", **TABLE)
    pe = table(submission.sinusoidal_encoding, T, d)
    sin, cos = pe[:, 0::2], pe[:, 1::2]  # (T, d/2) each
    omega = np.arctan2(sin[1], cos[1]) - np.arctan2(sin[0], cos[0])  # (d/2,): each pair's angle step, as you built it
    for k in (1, 7, 30):
        ck, sk = np.cos(k * omega), np.sin(k * omega)
        # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
        rotated = np.stack((sin[:-k] * ck + cos[:-k] * sk, cos[:-k] * ck - sin[:-k] * sk), axis=-1).reshape(T - k, d)
        expect_close(
            pe[k:], rotated,
            f"PE(pos + {k}) must be PE(pos) with every pair (sin, cos) rotated by {k} times the pair's angle "
            "step: that holds only when pair i is (sin, cos) of pos·ω_i, an angle linear in the position",
            **TABLE,
        )  # fmt: skip


def test_each_pair_on_unit_circle(submission, reference):
    """every pair (PE[pos, 2i], PE[pos, 2i+1]) is (sin a, cos a), so its squares sum to 1"""
    want = table(reference.sinusoidal_encoding, 32, 10)
    pe = table(submission.sinusoidal_encoding, 32, 10)
    norms = pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2
    ones = np.ones_like(norms)
    expect_close(want[:, 0::2] ** 2 + want[:, 1::2] ** 2, ones, "reference is wrong: a course problem", **TABLE)
    expect_close(norms, ones, "each pair must be the sine and the cosine of ONE angle, so sin² + cos² = 1", **TABLE)


# --- learned positional embedding -------------------------------------------------------------

NOT_A_PARAMETER = (
    "the table is not a trainable parameter: wrap it in nn.Parameter and assign it to self.weight, "
    "so that module.parameters() (and so the optimizer) sees it"
)


def learned_table(module, shape):
    weight = getattr(module, "weight", None)
    expect(isinstance(weight, nn.Parameter), NOT_A_PARAMETER, f"self.weight is a {type(weight).__name__}")
    expect_equal(
        tuple(weight.shape),
        tuple(shape),
        "weight must be (max_len, d_model): one row per position",
        f"weight.shape: got {tuple(weight.shape)}, expected {tuple(shape)}",
    )
    return weight


def learned_with(module_cls, rows):
    """A LearnedPositionalEmbedding whose table holds `rows` (max_len, d)."""
    module = module_cls(*rows.shape)
    with torch.no_grad():
        learned_table(module, rows.shape).copy_(rows)
    return module


def test_learned_table_is_a_parameter(submission, reference):
    """the learned table is an nn.Parameter of shape (max_len, d_model), initialised N(0, 0.02²)"""
    torch.manual_seed(0)
    want = [tuple(p.shape) for p in reference.LearnedPositionalEmbedding(1024, 48).parameters()]
    module = submission.LearnedPositionalEmbedding(1024, 48)
    weight = learned_table(module, (1024, 48))
    params = list(module.parameters())
    shapes = [tuple(p.shape) for p in params]
    expect(any(p is weight for p in params), NOT_A_PARAMETER, f"parameters: {shapes}, expected {want}")
    std, mean = float(weight.detach().std()), float(weight.detach().mean())
    # 49,152 samples: the sample std lies within 1% of 0.02 and the mean within 3e-4 of 0 (4 sigma)
    expect(
        abs(std - 0.02) < 0.002 and abs(mean) < 3e-4,
        "initialise the table from a normal distribution with mean 0 and std 0.02, as GPT-2 does",
        f"your table: mean {mean:.4g}, std {std:.4g}",
    )


def test_learned_rows_from_position_zero(submission, reference):
    """forward(T) returns rows 0 .. T-1 of the table, as a (T, d_model) tensor"""
    torch.manual_seed(0)
    rows = torch.randn(16, 6)
    for T in (5, 16):
        want = learned_with(reference.LearnedPositionalEmbedding, rows)(T)
        expect_close(want, rows[:T].numpy(), "reference is wrong: a course problem")
        got = learned_with(submission.LearnedPositionalEmbedding, rows)(T)
        expect_close(
            got, want,
            "forward(T) must return the rows of positions 0 .. T-1: the first token is position 0 and "
            "reads row 0 (starting at row 1 leaves row 0 untrained and the last position without a row)",
            rtol=0, atol=0,
        )  # fmt: skip
    if torch.cuda.is_available():
        on_gpu = learned_with(submission.LearnedPositionalEmbedding, rows).cuda()(5)
        expect_close(on_gpu, rows[:5].numpy(), "forward(T) must return rows 0 .. T-1 on the GPU too", rtol=0, atol=0)


def test_learned_refuses_positions_beyond_table(submission, reference):
    """forward(T) raises ValueError when T is larger than max_len: a learned table cannot extrapolate"""
    torch.manual_seed(0)
    rows = torch.randn(8, 4)
    try:
        learned_with(reference.LearnedPositionalEmbedding, rows)(9)
        raised_ref = False
    except ValueError:
        raised_ref = True
    expect(raised_ref, "the reference does not raise: a course problem")
    module = learned_with(submission.LearnedPositionalEmbedding, rows)
    try:
        got = module(9)
        shape = tuple(got.shape) if hasattr(got, "shape") else type(got).__name__
    except (ValueError, IndexError):
        return
    expect(
        False,
        "forward(T) must raise ValueError when T > max_len: there is no row for those positions, and "
        "weight[:T] silently returns only max_len rows, which fails later with a confusing broadcast error",
        f"max_len = 8, forward(9) returned {shape}",
    )


def test_learned_gradient_reaches_rows_used(submission, reference):
    """the output stays in autograd's graph: rows 0 .. T-1 get gradients, the others stay 0"""
    torch.manual_seed(0)
    rows, upstream = torch.randn(10, 4), torch.randn(6, 4)
    ref = learned_with(reference.LearnedPositionalEmbedding, rows)
    (ref(6) * upstream).sum().backward()
    want = ref.weight.grad
    expect_close(want[:6], upstream.numpy(), "reference gradient is wrong: a course problem")
    module = learned_with(submission.LearnedPositionalEmbedding, rows)
    out = module(6)
    no_gradient = (
        "no gradient reached the table: return a slice of the Parameter itself, not of weight.data, "
        "weight.detach() or a copy made outside autograd's graph"
    )
    expect(getattr(out, "requires_grad", False), no_gradient, "forward's output does not require grad")
    (out * upstream).sum().backward()
    expect(module.weight.grad is not None, no_gradient, "weight.grad is None after backward()")
    expect_close(
        module.weight.grad, want, "weight.grad must be the upstream gradient in rows 0 .. T-1 and exactly 0 below them"
    )
