"""Grader: activation functions, forward (sigmoid, tanh, relu, gelu, softmax)."""

import numpy as np
import pytest

from mentor.grading.expect import expect, expect_close, expect_finite, expect_raises_nothing, expect_shape

# Tolerances: expect_close's defaults (rtol=1e-6, atol=1e-8) unless a test says otherwise. On
# ordinary inputs every function is smooth and O(1), so float64 results agree with the reference
# to rounding; 1e-6 leaves room for an equivalent formula (2·sigmoid(2x) - 1 for tanh, say) and
# still rejects the erf form of GELU, which differs from the tanh form by up to ~5e-4.


def huge():
    """Inputs that overflow a naive exp: a fresh array per call, so an in-place bug cannot leak."""
    return np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(scale=3.0, size=(4, 5))


def test_sigmoid_values(submission, reference, x):
    """sigmoid computes 1 / (1 + exp(-x)) elementwise"""
    expect_close(
        submission.sigmoid(x),
        reference.sigmoid(x),
        "sigmoid gives wrong values: sigmoid(x) = 1 / (1 + exp(-x)), elementwise, same shape as x",
    )


def test_sigmoid_large_inputs(submission, reference):
    """sigmoid raises no overflow warning and stays finite for x = ±1000"""
    want = reference.sigmoid(huge())
    got = expect_raises_nothing(
        submission.sigmoid, huge(),
        why="sigmoid overflowed for large |x|: exp(1000) is inf in float64. Compute with exp(-|x|), "
        "which never exceeds 1 (and note np.where evaluates both branches, so a where() over an "
        "overflowing formula still overflows)",
    )  # fmt: skip
    expect_close(got, want, "sigmoid must saturate to exactly 0 and 1 for x = -1000 and x = 1000, without nan")


def test_sigmoid_tiny_tail(submission, reference):
    """sigmoid keeps its tiny values for very negative x to full relative precision"""
    x = np.array([-30.0, -40.0, -60.0])
    want = reference.sigmoid(x)
    # atol=0: these values are ~1e-13 to ~1e-27, so only a relative tolerance means anything
    expect_close(
        submission.sigmoid(x), want,
        "sigmoid loses its tiny values for very negative x (sigmoid(-40) ≈ 4.2e-18 came back as 0 or "
        "far off): 1 - sigmoid(-x) and 0.5·(1 + tanh(x/2)) cancel catastrophically; for x < 0 use "
        "exp(x) / (1 + exp(x))",
        rtol=1e-6, atol=0.0,
    )  # fmt: skip


def test_tanh_values(submission, reference, x):
    """tanh matches the hyperbolic tangent elementwise"""
    expect_close(
        submission.tanh(x),
        reference.tanh(x),
        "tanh gives wrong values: tanh(x) = (e^x - e^-x) / (e^x + e^-x), elementwise, same shape as x",
    )


def test_tanh_large_inputs(submission, reference):
    """tanh raises no overflow warning and saturates to ±1 for x = ±1000"""
    want = reference.tanh(huge())
    got = expect_raises_nothing(
        submission.tanh, huge(),
        why="tanh overflowed for large |x|: (e^x - e^-x) / (e^x + e^-x) becomes inf/inf = nan at "
        "x = 1000. Use np.tanh, or 2·sigmoid(2x) - 1 with a stable sigmoid",
    )  # fmt: skip
    expect_close(got, want, "tanh must saturate to exactly -1 and 1 for x = -1000 and x = 1000, without nan")


def test_relu_values(submission, reference, x):
    """relu keeps positive entries and zeroes negative ones, elementwise, same shape"""
    want = reference.relu(x)
    got = submission.relu(x.copy())
    expect_shape(
        got, x.shape,
        "relu must keep the shape of x: np.max(x, 0) reduces axis 0 away; np.maximum(x, 0) compares "
        "each element with 0",
    )  # fmt: skip
    expect_close(got, want, "relu gives wrong values: relu(x) = x where x > 0, else 0")


def test_gelu_values(submission, reference):
    """gelu matches GPT-2's tanh approximation"""
    x = np.linspace(-6.0, 6.0, 49)
    expect_close(
        submission.gelu(x),
        reference.gelu(x),
        "gelu does not match GPT-2's tanh approximation 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) "
        "(the exact erf form differs by up to 5e-4; check the cube, the sqrt(2/π) and the 0.5)",
    )


def test_gelu_large_inputs(submission, reference):
    """gelu stays finite for x = ±1000: ≈ x for large x, ≈ 0 for very negative x"""
    x = np.array([-1000.0, -100.0, 100.0, 1000.0])  # the extremes only: gelu_values checks the middle
    want = reference.gelu(x)
    got = expect_raises_nothing(
        submission.gelu, x.copy(),
        why="gelu overflowed for large |x|: x³ is only 1e9 at x = 1000, but a tanh built from exp() "
        "overflows there; use np.tanh",
    )  # fmt: skip
    expect_close(got, want, "gelu(1000) should be 1000 and gelu(-1000) should be 0, without nan")


def test_softmax_values(submission, reference):
    """softmax exponentiates and normalises each row to sum to 1"""
    logits = np.random.default_rng(1).normal(size=(3, 5))
    want = reference.softmax(logits)
    got = submission.softmax(logits)
    expect_close(
        got, want,
        "softmax gives wrong values: softmax(x)_i = exp(x_i) / sum_j exp(x_j), with the sum taken "
        "along the last axis, separately for every row",
    )  # fmt: skip


def test_softmax_large_logits(submission, reference):
    """softmax raises no overflow warning for logits near 1000"""
    logits = np.array([[1000.0, 1001.0, 1002.0], [999.0, 1003.0, 1000.5]])
    want = reference.softmax(logits)
    got = expect_raises_nothing(
        submission.softmax, logits,
        why="softmax overflows for large logits: exp(1000) is inf. Did you subtract the row max before exp?",
    )
    expect_finite(got, "softmax overflows for large logits: inf/inf is nan. Did you subtract the row max before exp?")
    # every value is O(0.1), so a stable softmax agrees with the reference to rounding
    expect_close(got, want, "softmax([1000, 1001, 1002]) must equal softmax([0, 1, 2]): it is shift invariant")


def test_softmax_rows_at_different_scales(submission, reference):
    """softmax subtracts each row's own max, so rows far apart in scale both work"""
    logits = np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]])
    want = reference.softmax(logits)
    got = expect_raises_nothing(
        submission.softmax, logits,
        why="softmax breaks when rows live at different scales: subtract each row's own max "
        "(x.max(axis, keepdims=True)), not the max of the whole array",
    )  # fmt: skip
    expect_close(
        got, want,
        "softmax breaks when rows live at different scales: subtract each row's own max "
        "(x.max(axis, keepdims=True)), not the max of the whole array",
    )  # fmt: skip


def test_softmax_square_input(submission, reference):
    """softmax of a square (C, C) matrix normalises rows, not columns"""
    logits = np.random.default_rng(2).normal(size=(4, 4))
    want = reference.softmax(logits)
    expect_close(
        submission.softmax(logits), want,
        "softmax of a square (4, 4) input is wrong: reduce with keepdims=True, so the (4, 1) row "
        "max and row sum broadcast along each row; a (4,) result silently lines up with columns",
    )  # fmt: skip


def test_softmax_axis_argument(submission, reference):
    """softmax normalises along the `axis` it is given, for 3-d inputs too"""
    logits = np.random.default_rng(3).normal(size=(2, 3, 4))
    for axis in (0, 1):
        want = reference.softmax(logits, axis=axis)
        expect_close(
            submission.softmax(logits, axis=axis), want,
            f"softmax(x, axis={axis}) must sum to 1 along axis {axis}: use the `axis` argument in both "
            "the max and the sum instead of always reducing the last axis",
        )  # fmt: skip


def test_inputs_not_modified(submission, x):
    """no activation changes the array it is given"""
    for name in ("sigmoid", "tanh", "relu", "gelu", "softmax"):
        arg = x.copy()
        getattr(submission, name)(arg)
        expect(
            np.array_equal(arg, x),
            f"{name} modified its input array in place (x -= ..., x[x < 0] = 0, np.maximum(x, 0, out=x)): "
            "the caller still needs those values, so return a new array",
        )


def test_softmax_latency_budget(submission, reference, budget):
    """softmax on a (20000, 10) batch is vectorised: within the latency budget of the reference"""
    logits = np.random.default_rng(3).normal(size=(20000, 10))  # many short rows: a row loop costs ~50x
    reference.softmax(logits)  # expected code runs first, as everywhere in the grader
    budget.latency(
        lambda: submission.softmax(logits.copy()),
        lambda: reference.softmax(logits.copy()),
        why="softmax is much slower than the reference: a Python loop over rows or elements where one "
        "vectorised expression over the whole array belongs",
    )
