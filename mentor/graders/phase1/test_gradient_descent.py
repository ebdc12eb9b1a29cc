"""Grader: gradients of a linear neuron's MSE loss, one gradient-descent step, and a fit."""

import numpy as np
import pytest

from mentor.grading.expect import as_array, expect, expect_close, expect_shape

# The reference and a correct learner compute the same sums in a different order (x.T @ r versus
# a mean of products), which moves float64 results by a few ulps: 1e-9 is far above that and far
# below any real mistake (a missing factor 2 is off by 50%).
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    n, d = 6, 3  # N != D, so a residual broadcast against the wrong axis cannot pass silently
    return rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=d), 0.3


def test_single_example_chain_rule(submission, reference):
    """for one example, dL/dw = 2·(x·w + b − y)·x and dL/db = 2·(x·w + b − y)"""
    x, y, w, b = np.array([[3.0, -1.0]]), np.array([4.0]), np.array([2.0, 0.5]), 1.0
    want_dw, want_db = reference.neuron_grads(x, y, w, b)
    dw, db = submission.neuron_grads(x, y, w, b)
    why = (
        "for a single example L = (x·w + b − y)², so the chain rule gives dL/dw = 2·(x·w + b − y)·x and "
        "dL/db = 2·(x·w + b − y): the 2 comes from differentiating the square, and the residual is "
        "prediction minus target"
    )
    expect_close(dw, want_dw, why, rtol=RTOL, atol=ATOL)
    # db's shape is test_db_is_one_number's business: here a (1,) array counts as its one value
    expect_close(as_array(db, "neuron_grads").reshape(-1), np.reshape(want_db, -1), why, rtol=RTOL, atol=ATOL)


def test_db_is_one_number(submission, batch):
    """db is a single number, not one value per example"""
    x, y, w, b = batch
    _, db = submission.neuron_grads(x, y, w, b)
    expect_shape(
        db, (),
        "db must be a single number: the bias b is shared by every example, so dL/db adds up the "
        "contributions of all N examples (and divides by N); one value per example is the per-example "
        "gradient before that reduction",
    )  # fmt: skip


def test_dw_pairs_each_residual_with_its_row(submission, reference):
    """dw weighs each row of x by that example's own residual"""
    rng = np.random.default_rng(1)
    # square on purpose (N == D): `x * r` then runs without an error but pairs residual n with
    # feature n; scale-free comparison, so a wrong constant factor is left to the other tests
    x, y, w, b = rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4), -0.2
    want, _ = reference.neuron_grads(x, y, w, b)
    dw, _ = submission.neuron_grads(x, y, w, b)
    why = (
        "dw points in the wrong direction: each example's residual r_n must multiply its own row of x, "
        "dw ∝ Σ_n r_n·x_n = xᵀ r. With r of shape (N,) and x of shape (N, D), `x * r` lines r up with the "
        "last axis (the features); use `r[:, None] * x` or `x.T @ r`"
    )
    got = as_array(dw, "neuron_grads")
    expect_shape(got, want.shape, why)
    norm = np.linalg.norm(got) * np.linalg.norm(want)
    cosine = float(got @ want / norm) if norm > 0 else 0.0
    expect(abs(cosine) > 1 - 1e-9, why, f"cosine between your dw and the correct one: {cosine:.6f} (1 = same direction)")


def test_gradient_is_batch_mean(submission, batch):
    """the gradient is a mean over the batch: repeating every example leaves it unchanged"""
    x, y, w, b = batch
    x2, y2 = np.concatenate([x, x]), np.concatenate([y, y])  # the same data, each example twice
    dw, db = submission.neuron_grads(x, y, w, b)
    dw2, db2 = submission.neuron_grads(x2, y2, w, b)
    why = (
        "L is a mean over the batch, so its gradient is a mean too: repeating every example twice must "
        "leave dw and db unchanged, but yours changed. Divide the sum over the N examples by N, so the "
        "gradient's size does not depend on the batch size"
    )
    expect_close(dw2, dw, why, rtol=RTOL, atol=ATOL)
    expect_close(db2, db, why, rtol=RTOL, atol=ATOL)


def test_gd_step_moves_against_gradient(submission, reference):
    """gd_step moves the parameters against the gradient, scaled by lr"""
    rng = np.random.default_rng(2)
    w, dw = rng.normal(size=3), rng.normal(size=3)
    b, db, lr = 0.5, -1.5, 0.1
    want_w, want_b = reference.gd_step(w.copy(), b, dw, db, lr)
    new_w, new_b = submission.gd_step(w.copy(), b, dw, db, lr)
    why = (
        "gd_step must step against the gradient, downhill: w − lr·dw and b − lr·db. The gradient points "
        "where the loss grows fastest, so adding lr·dw climbs the loss"
    )
    expect_close(new_w, want_w, why, rtol=RTOL, atol=ATOL)
    expect_close(new_b, want_b, why, rtol=RTOL, atol=ATOL)


def test_fit_neuron_follows_gradient_descent(submission, reference):
    """fit_neuron runs plain gradient descent from zero and records the loss before each step"""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.7 + 0.01 * rng.normal(size=50)
    want_w, want_b, want_losses = reference.fit_neuron(x, y, lr=0.1, steps=100)
    w, b, losses = submission.fit_neuron(x, y, lr=0.1, steps=100)
    why = (
        "fit_neuron is not plain gradient descent: start from w = 0 and b = 0, then in each of `steps` "
        "steps record the loss, compute both gradients and update both w and b with gd_step"
    )
    # 100 steps of a contracting iteration keep rounding differences near 1e-13; 1e-7 leaves room
    expect_close(losses, want_losses, why, rtol=1e-7, atol=1e-10)
    expect_close(w, want_w, why, rtol=1e-7, atol=1e-10)
    expect_close(b, want_b, why, rtol=1e-7, atol=1e-10)
