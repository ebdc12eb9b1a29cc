"""Grader: activation derivatives and softmax's vector-Jacobian product."""

import numpy as np
import pytest

from mentor.grading.expect import expect, expect_close, expect_raises_nothing

# Every gradient is checked twice: against central differences (f(x+h) - f(x-h)) / 2h, computed
# here in float64 from forward passes this file writes itself, and then tightly against the
# reference. With h = 1e-5 the truncation error is ~h²·|f'''|/6 < 1e-10 and the rounding error
# ~eps·|f|/h ~ 1e-10, so rtol=1e-5, atol=1e-7 accepts any correct formula with a wide margin
# and rejects every missing factor or term, which are off by O(0.1).
H = 1e-5
NUM = dict(rtol=1e-5, atol=1e-7)
HUGE = (-1000.0, -100.0, 100.0, 1000.0)  # the extremes only: the *_matches_numerical tests cover the middle


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def central_difference(f, x):
    """f'(x) for an elementwise f."""
    return (f(x + H) - f(x - H)) / (2 * H)


def softmax_vjp_numerical(x, dy):
    """dL/dx for L(x) = sum(dy * softmax(x)), one coordinate at a time."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = H
        grad[i] = ((dy * _softmax(x + step)).sum() - (dy * _softmax(x - step)).sum()) / (2 * H)
    return grad


@pytest.fixture
def x():
    """Points away from 0, where relu has its kink and central differences straddle it."""
    rng = np.random.default_rng(0)
    x = rng.normal(scale=2.5, size=(4, 6))
    return np.where(np.abs(x) < 0.05, 0.5, x)


def check_grad(got, numerical, want, why):
    expect_close(got, numerical, why, **NUM)
    expect_close(got, want, why)  # rtol=1e-6: the closed forms agree to rounding


def test_sigmoid_grad_matches_numerical(submission, reference, x):
    """sigmoid_grad equals the numerical derivative of sigmoid"""
    want, numerical = reference.sigmoid_grad(x), central_difference(_sigmoid, x)
    check_grad(
        submission.sigmoid_grad(x.copy()), numerical, want,
        "sigmoid_grad disagrees with the numerical derivative: sigmoid'(x) = s·(1 - s) with s = sigmoid(x). "
        "You are given the input x: x·(1 - x) is the formula in terms of the output s, not the input x",
    )  # fmt: skip


def test_sigmoid_grad_large_inputs(submission, reference):
    """sigmoid_grad stays finite, with no overflow warning, for x = ±1000"""
    x = np.array(HUGE)
    want = reference.sigmoid_grad(x)
    got = expect_raises_nothing(
        submission.sigmoid_grad, x.copy(),
        why="sigmoid_grad overflowed for large |x|: exp(-x) / (1 + exp(-x))² is inf/inf at x = -1000. "
        "Reuse a stable sigmoid: s·(1 - s)",
    )  # fmt: skip
    expect_close(got, want, "sigmoid_grad must fall to 0 on both sides for x = ±1000 and ±100, without nan")


def test_tanh_grad_matches_numerical(submission, reference, x):
    """tanh_grad equals the numerical derivative of tanh"""
    want, numerical = reference.tanh_grad(x), central_difference(np.tanh, x)
    check_grad(
        submission.tanh_grad(x.copy()), numerical, want,
        "tanh_grad disagrees with the numerical derivative: tanh'(x) = 1 - tanh(x)², the square of "
        "tanh(x), not of x, and not tanh(x) unsquared",
    )  # fmt: skip


def test_tanh_grad_large_inputs(submission, reference):
    """tanh_grad stays finite, with no overflow warning, for x = ±1000"""
    x = np.array(HUGE)
    want = reference.tanh_grad(x)
    got = expect_raises_nothing(
        submission.tanh_grad, x.copy(),
        why="tanh_grad overflowed for large |x|: 1 / cosh(x)² needs cosh(1000) = inf. Write it as "
        "1 - tanh(x)², which only uses the bounded tanh",
    )  # fmt: skip
    expect_close(got, want, "tanh_grad must fall to 0 for x = ±1000, without nan")


def test_relu_grad_is_the_slope(submission, reference, x):
    """relu_grad is 1 for positive x and 0 for negative x"""
    want, numerical = reference.relu_grad(x), central_difference(lambda v: np.maximum(v, 0.0), x)
    check_grad(
        submission.relu_grad(x.copy()), numerical, want,
        "relu_grad must be relu's slope: 1 where x > 0 and 0 where x < 0 (a derivative, not relu(x) itself)",
    )


def test_relu_grad_returns_numbers(submission, reference):
    """relu_grad returns numbers of x's float dtype, 1.0 and 0.0, not a bool mask"""
    x = np.array([-2.0, 3.0, 0.5], dtype=np.float32)
    got = np.asarray(submission.relu_grad(x.copy()))
    want = reference.relu_grad(x)
    expect_close(got.astype(np.float64), want.astype(np.float64), "relu_grad must be relu's slope: 1 where x > 0 and 0 elsewhere")
    expect(
        got.dtype == x.dtype,
        "relu_grad must return numbers in x's float dtype (1.0 and 0.0), not a bool mask: `(x > 0)` is bool, "
        "`(x > 0).astype(x.dtype)` is the slope. A bool array multiplies like 0/1 but is not a gradient: it "
        "cannot be scaled in place, summed into a float buffer or passed where floats are expected",
        f"float32 input: got dtype {got.dtype}, expected {x.dtype}",
    )


def test_relu_grad_at_zero(submission, reference):
    """relu_grad at exactly x = 0 is 0, the course's convention"""
    x = np.array([-1.0, 0.0, 1.0])
    want = reference.relu_grad(x)
    expect_close(
        submission.relu_grad(x.copy()), want,
        "relu_grad at exactly x = 0 must be 0 (the convention here and in PyTorch): use x > 0, not x >= 0",
    )


def test_gelu_grad_matches_numerical(submission, reference, x):
    """gelu_grad equals the numerical derivative of GPT-2's tanh-approximation gelu"""
    want, numerical = reference.gelu_grad(x), central_difference(_gelu, x)
    check_grad(
        submission.gelu_grad(x.copy()), numerical, want,
        "gelu_grad disagrees with the numerical derivative of 0.5·x·(1 + tanh(u)): use the product "
        "rule (x times a function of x gives two terms) and the chain rule through "
        "u = GELU_C·(x + GELU_A·x³), whose derivative GELU_C·(1 + 3·GELU_A·x²) multiplies (1 - tanh(u)²)",
    )  # fmt: skip


def test_gelu_grad_large_inputs(submission, reference):
    """gelu_grad stays finite, with no overflow warning, for x = ±1000: 1 on the right, 0 on the left"""
    x = np.array(HUGE)
    want = reference.gelu_grad(x)
    got = expect_raises_nothing(
        submission.gelu_grad, x.copy(),
        why="gelu_grad overflowed for large |x|: u is about 8e8 at x = 1000, so cosh(u) or exp(u) is inf. "
        "Write the derivative of tanh as 1 - tanh(u)²",
    )  # fmt: skip
    expect_close(got, want, "gelu_grad must tend to 1 for large x and to 0 for very negative x, without nan")


def test_softmax_backward_one_row(submission, reference):
    """softmax_backward on one row equals the numerical gradient of sum(dy * softmax(x))"""
    rng = np.random.default_rng(1)
    logits, dy = rng.normal(size=6), rng.normal(size=6)
    y = _softmax(logits)
    want, numerical = reference.softmax_backward(y, dy), softmax_vjp_numerical(logits, dy)
    check_grad(
        submission.softmax_backward(y.copy(), dy.copy()), numerical, want,
        "softmax_backward is not the vector-Jacobian product: dx_i = y_i·(dy_i - sum_j y_j·dy_j). "
        "The elementwise y·(1 - y)·dy uses only the Jacobian's diagonal and misses the -y_i·y_j terms "
        "that couple every output to every input",
    )  # fmt: skip


def test_softmax_backward_rows_independent(submission, reference):
    """softmax_backward treats every row along the last axis on its own, for 2-d and 3-d inputs"""
    rng = np.random.default_rng(2)
    for shape in ((4, 4), (2, 3, 5)):
        logits, dy = rng.normal(size=shape), rng.normal(size=shape)
        y = _softmax(logits)
        want, numerical = reference.softmax_backward(y, dy), softmax_vjp_numerical(logits, dy)
        check_grad(
            submission.softmax_backward(y.copy(), dy.copy()), numerical, want,
            f"softmax_backward mixes rows on a {shape} input: sum_j y_j·dy_j is one number per row, "
            "summed over the last axis only, and kept as (..., 1) with keepdims=True so it broadcasts "
            "along that row",
        )  # fmt: skip


def test_softmax_backward_gpt2_vocabulary(submission, reference):
    """softmax_backward handles GPT-2's vocabulary, V = 50257, without the V×V Jacobian"""
    rng = np.random.default_rng(3)
    y, dy = _softmax(rng.normal(size=(2, 50257))), rng.normal(size=(2, 50257))
    want = reference.softmax_backward(y, dy)
    expect_close(
        submission.softmax_backward(y.copy(), dy.copy()), want,
        "softmax_backward is wrong on rows of V = 50257: dx = y * (dy - (y * dy).sum(-1, keepdims=True))",
    )
