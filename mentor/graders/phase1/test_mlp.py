"""Grader: a two-layer MLP's initialization, forward pass, cross-entropy loss and backward pass."""

import numpy as np
import pytest

from mentor.grading.expect import (
    as_array,
    expect,
    expect_close,
    expect_equal,
    expect_finite,
    expect_raises_nothing,
    expect_shape,
)

KEYS = ("W1", "b1", "W2", "b2")
D, H, C, N = 3, 5, 4, 6
# Forward values and analytic gradients are the same float64 formulas up to summation order: a
# few ulps apart, far inside 1e-9 and far from any real mistake (a missing 1/N is off by N×).
RTOL, ATOL = 1e-9, 1e-12


def copy_params(params):
    return {k: np.array(v, dtype=float) for k, v in params.items()}


def entry(mapping, key, what):
    """mapping[key], or a clear message when the learner's function returned something else."""
    expect(isinstance(mapping, dict), f"{what} must return a dict with keys W1, b1, W2, b2", f"got {type(mapping).__name__}")
    expect(key in mapping, f"{what} must return a dict with keys W1, b1, W2, b2", f"missing key {key!r}")
    return as_array(mapping[key], what)


@pytest.fixture(scope="module")
def case(reference):
    """A small batch and parameters with non-zero biases, so every term of the graph matters."""
    rng = np.random.default_rng(0)
    params = reference.init_params(D, H, C, seed=0)
    params["b1"] = 0.1 * rng.normal(size=H)
    params["b2"] = 0.1 * rng.normal(size=C)
    x = rng.normal(size=(N, D))
    labels = np.array([0, 3, 1, 1, 2, 3])
    return params, x, labels


def test_init_shapes(submission):
    """init_params gives W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)"""
    params = submission.init_params(D, H, C, seed=0)
    why = (
        "init_params must return W1 (D, H), b1 (H,), W2 (H, C) and b2 (C,): a weight matrix has one row "
        "per input and one column per output, so that x @ W1 and h @ W2 line up"
    )
    for key, shape in zip(KEYS, [(D, H), (H,), (H, C), (C,)]):
        expect_shape(entry(params, key, "init_params"), shape, f"{why} ({key} is off)")


def test_init_is_seeded_he(submission, reference):
    """init_params draws seeded He-scaled weights and zero biases"""
    want = reference.init_params(D, H, C, seed=7)
    got = submission.init_params(D, H, C, seed=7)
    why = (
        "init_params is not the seeded He initialization: from rng = np.random.default_rng(seed) draw "
        "W1 = rng.standard_normal((D, H)) * sqrt(2 / D), then W2 = rng.standard_normal((H, C)) * sqrt(2 / H); "
        "both biases start at zero"
    )
    for key in KEYS:
        # the same generator draws the same numbers: only the scale's rounding may differ
        expect_close(entry(got, key, "init_params"), want[key], f"{why} ({key} differs)", rtol=1e-12, atol=1e-15)


def test_forward_logits(submission, reference, case):
    """mlp_forward returns the logits relu(x @ W1 + b1) @ W2 + b2"""
    params, x, _ = case
    want, _ = reference.mlp_forward(copy_params(params), x)
    got, _ = submission.mlp_forward(copy_params(params), x)
    expect_close(
        got, want,
        "the logits must be relu(x @ W1 + b1) @ W2 + b2, shape (N, C): raw scores, with no softmax and no "
        "ReLU on the output layer (the softmax belongs to the loss)",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


def test_loss_value(submission, reference, case):
    """the loss is the batch mean of −log softmax(logits)[label]"""
    params, x, labels = case
    want, _ = reference.loss_and_grads(copy_params(params), x, labels)
    got, _ = submission.loss_and_grads(copy_params(params), x, labels)
    expect_close(
        got, want,
        "the loss is not the mean softmax cross-entropy: for each example take −log softmax(logits_n)[label_n], "
        "the softmax normalizing over that example's C classes (axis=1), then average over the N examples",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


def test_weight_grad_shapes(submission, case):
    """dW1 and dW2 have the shapes of W1 (D, H) and W2 (H, C)"""
    params, x, labels = case
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    why = (
        "dW1 and dW2 must have the shapes of W1 (D, H) and W2 (H, C). The gradient of a matmul out = h @ W "
        "is dW = hᵀ @ dout and dh = dout @ Wᵀ: the transposes are what make the shapes line up"
    )
    expect_shape(entry(grads, "W1", "loss_and_grads"), (D, H), f"{why} (dW1 is off)")
    expect_shape(entry(grads, "W2", "loss_and_grads"), (H, C), f"{why} (dW2 is off)")


def test_bias_grad_shapes(submission, case):
    """db1 and db2 are summed over the batch: shapes (H,) and (C,)"""
    params, x, labels = case
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    why = (
        "db1 and db2 must have the biases' shapes (H,) and (C,): a bias is added to every example, so its "
        "gradient is the sum over the batch axis (axis 0) of the per-example gradients"
    )
    expect_shape(entry(grads, "b1", "loss_and_grads"), (H,), f"{why} (db1 is off)")
    expect_shape(entry(grads, "b2", "loss_and_grads"), (C,), f"{why} (db2 is off)")


def test_logit_gradient(submission, reference, case):
    """the gradient reaching the logits is (softmax − onehot) / N, seen through db2"""
    params, x, labels = case
    _, want = reference.loss_and_grads(copy_params(params), x, labels)
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    got = entry(grads, "b2", "loss_and_grads")
    expect_close(
        got.sum(axis=0) if got.ndim == 2 else got,  # a db2 left unsummed is test_bias_grad_shapes' business
        want["b2"],
        "db2 is wrong, so the gradient at the logits is: for each example d loss / d logits is "
        "softmax(logits) - onehot(label), divided by N for the mean, and db2 is its sum over the batch (its "
        "entries add up to 0)",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


def test_relu_backward(submission, reference, case):
    """the backward pass through ReLU lets gradient through only where z1 > 0"""
    params, x, labels = case
    params = copy_params(params)
    dead = np.arange(H) % 2 == 0
    params["b1"][dead] = -50.0  # these hidden units are off for every example: they must get no gradient
    _, want = reference.loss_and_grads(copy_params(params), x, labels)
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    why = (
        "the gradient through the ReLU is wrong: ReLU's derivative is 1 where its input z1 > 0 and 0 elsewhere, "
        "so dz1 = dh * (z1 > 0). A hidden unit that was off passes no gradient back to W1 and b1, and the "
        "mask is that 0/1 indicator, not relu(z1) itself"
    )
    got = entry(grads, "W1", "loss_and_grads")
    expect_equal(got.shape, want["W1"].shape, why, f"dW1 shape: got {got.shape}, expected {want['W1'].shape}")
    leaked = np.flatnonzero(dead)[np.abs(got[:, dead]).max(axis=0) > 0]
    expect(leaked.size == 0, why, f"hidden units {leaked.tolist()} were off for every example, yet their dW1 columns are not 0")
    # compared up to scale: a missing 1/N upstream is test_grads_are_batch_mean's business, not the ReLU's
    norm = np.linalg.norm(got) * np.linalg.norm(want["W1"])
    cosine = float(np.sum(got * want["W1"]) / norm) if norm > 0 else 0.0
    expect(cosine > 1 - 1e-9, why, f"cosine between your dW1 and the correct one: {cosine:.6f} (1 = same direction)")


def test_relu_backward_at_exactly_zero(submission, reference, case):
    """a hidden unit whose input z1 is exactly 0 passes no gradient back (ReLU's slope at 0 is 0 here)"""
    params, x, labels = case
    params = copy_params(params)
    params["W1"][:, 1] = 0.0
    params["b1"][1] = 0.0  # z1[:, 1] is exactly 0 for every example: the kink itself
    _, want = reference.loss_and_grads(copy_params(params), x, labels)
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    got = entry(grads, "b1", "loss_and_grads")
    expect_shape(got, want["b1"].shape, "db1 has b1's shape, (H,)")
    expect(
        got[1] == 0.0,
        "at z1 = 0 exactly, ReLU's slope is 0 in this course (and in PyTorch): mask the gradient with z1 > 0, "
        "not z1 >= 0, so a unit sitting at the kink passes no gradient back",
        f"hidden unit 1 has z1 = 0 for every example, yet its db1 is {got[1]:.6g} instead of 0",
    )
    expect_close(got, want["b1"], "db1 at a unit sitting at the kink", rtol=RTOL, atol=ATOL)


def test_grads_are_batch_mean(submission, case):
    """repeating every example leaves the loss and the weight gradients unchanged"""
    params, x, labels = case
    loss, grads = submission.loss_and_grads(copy_params(params), x, labels)
    x2, labels2 = np.concatenate([x, x]), np.concatenate([labels, labels])  # the same data, each example twice
    loss2, grads2 = submission.loss_and_grads(copy_params(params), x2, labels2)
    why = (
        "the loss is a mean over the batch, so every gradient carries its 1/N: repeating every example twice "
        "must leave the loss, dW1 and dW2 unchanged, but yours changed. Divide d loss / d logits by N"
    )
    expect_close(loss2, loss, why, rtol=RTOL, atol=ATOL)
    for key in ("W1", "W2"):
        once, twice = entry(grads, key, "loss_and_grads"), entry(grads2, key, "loss_and_grads")
        expect_close(twice, once, f"{why} (d{key})", rtol=RTOL, atol=ATOL)


def numerical_grads(loss_fn, params, eps=1e-6):
    """Central differences (L(θ + ε) − L(θ − ε)) / 2ε, one parameter entry at a time."""
    params = copy_params(params)
    grads = {}
    for key, p in params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = loss_fn(params)
            p[i] = old - eps
            down = loss_fn(params)
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads[key] = g
    return grads


def test_grads_match_numerical(submission, reference, case):
    """every gradient matches central finite differences of the loss in float64"""
    params, x, labels = case
    want = numerical_grads(lambda p: reference.loss_and_grads(p, x, labels)[0], params)
    _, grads = submission.loss_and_grads(copy_params(params), x, labels)
    # with ε = 1e-6 in float64 the central difference is off by ~ε² (truncation) + 1e-16/ε
    # (rounding) ≈ 1e-10: 1e-5 relative / 1e-7 absolute still flags any wrong term
    for key in KEYS:
        expect_close(
            entry(grads, key, "loss_and_grads"), want[key],
            f"d{key} disagrees with the numerical gradient (L(θ + ε) − L(θ − ε)) / 2ε of the loss: walk "
            "your backward pass line by line and check each local derivative against the chain rule",
            rtol=1e-5, atol=1e-7,
        )  # fmt: skip


def test_softmax_is_stable(submission, reference, case):
    """large logits give a finite loss and gradients, without overflow"""
    params, x, _ = case
    x = 1000.0 * x  # logits in the thousands: exp(710) already overflows float64
    logits, _ = reference.mlp_forward(copy_params(params), x)
    labels = logits.argmax(axis=1)  # the right class wins by a mile: the true loss is finite (≈ 0)
    why = (
        "the softmax overflows for large logits: exp(1000) is inf and inf / inf is nan. Subtract the row's "
        "max logit before exp, since softmax(z) = softmax(z − max z) and then the largest exponent is exp(0) = 1"
    )
    # log(0) of a class with probability ~0 is allowed: only overflow and nan count as instability
    loss, grads = expect_raises_nothing(
        submission.loss_and_grads, copy_params(params), x, labels, why=why, errstate={"over": "raise", "invalid": "raise"}
    )
    expect_finite(loss, why)
    for key in KEYS:
        expect_finite(entry(grads, key, "loss_and_grads"), why)
