"""Grader: mean squared error and cross-entropy, with their gradients."""

import numpy as np
import pytest

from mentor.grading.expect import expect, expect_close, expect_finite, expect_raises_nothing, expect_shape

# Values are compared with expect_close's defaults (rtol=1e-6, atol=1e-8): the losses are sums of
# O(1) float64 terms, so any correct formula agrees with the reference to rounding. Gradients are
# also compared with central differences, h = 1e-5: truncation error ~h²·|f'''| < 1e-9 and
# rounding ~eps·|loss|/h ~ 1e-10, so rtol=1e-5, atol=1e-7 is loose for a right answer and tight
# for a missing factor of 2 or 1/N.
H = 1e-5
NUM = dict(rtol=1e-5, atol=1e-7)


def _cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return (lse - logits[np.arange(len(labels)), labels]).mean()


def numerical_grad(f, x):
    """d f / d x for a scalar function f of an array, one coordinate at a time."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = H
        grad[i] = (f(x + step) - f(x - step)) / (2 * H)
    return grad


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 3)), rng.normal(size=(4, 3))


@pytest.fixture
def classification():
    rng = np.random.default_rng(1)
    return rng.normal(scale=2.0, size=(6, 4)), np.array([0, 3, 1, 1, 2, 3])


def test_mse_is_a_scalar(submission, regression):
    """mse returns one number for a (4, 3) batch"""
    pred, target = regression
    expect_shape(
        submission.mse(pred.copy(), target.copy()), (),
        "mse must return one number: averaging over axis 0 only leaves one value per column; "
        "average over every element",
    )  # fmt: skip


def test_mse_value(submission, reference, regression):
    """mse is the mean over all elements of the squared differences"""
    pred, target = regression
    want = reference.mse(pred, target)
    expect_close(
        submission.mse(pred.copy(), target.copy()), want,
        "mse gives the wrong value: square each difference (not abs, no square root), then average "
        "over every element: np.mean with no axis, not a sum",
    )  # fmt: skip


def test_mse_grad_single_element(submission, reference):
    """mse_grad of one element is 2·(pred - target)"""
    pred, target = np.array([[3.0]]), np.array([[1.0]])
    want = reference.mse_grad(pred, target)
    expect_close(
        submission.mse_grad(pred.copy(), target.copy()), want,
        "mse_grad of one element at p = 3, t = 1 must be 4: d(p - t)²/dp = 2·(p - t). Is the factor 2 "
        "from the square missing?",
    )  # fmt: skip


def test_mse_grad_matches_numerical(submission, reference, regression):
    """mse_grad on a (4, 3) batch equals the numerical gradient, with its 1/size"""
    pred, target = regression
    want = reference.mse_grad(pred, target)
    numerical = numerical_grad(lambda p: np.mean((p - target) ** 2), pred)
    got = submission.mse_grad(pred.copy(), target.copy())
    why = (
        "mse_grad on a (4, 3) batch disagrees with the numerical gradient: mse averages over all "
        "pred.size = 12 elements, so divide by pred.size (not by N = pred.shape[0], and not by nothing)"
    )
    expect_close(got, numerical, why, **NUM)
    expect_close(got, want, why)


def test_mse_grad_descends(submission, regression):
    """a small step against mse_grad lowers the mse"""
    pred, target = regression
    grad = submission.mse_grad(pred.copy(), target.copy())
    before, after = np.mean((pred - target) ** 2), np.mean((pred - 0.1 * grad - target) ** 2)
    expect(
        after < before,
        "mse_grad has the wrong sign: it must be d mse / d pred = 2·(pred - target) / size, so that "
        "a step against it lowers the loss; (target - pred) points uphill",
        f"mse before the step {before:.6g}, after {after:.6g}",
    )


def test_cross_entropy_single_example(submission, reference):
    """cross_entropy of one example is logsumexp(z) - z[label]"""
    logits, labels = np.array([[2.0, -1.0, 0.5, 0.0, 1.0]]), np.array([2])
    want = reference.cross_entropy(logits, labels)
    expect_close(
        submission.cross_entropy(logits.copy(), labels.copy()), want,
        "cross_entropy of one example must be -log softmax(z)[label] = logsumexp(z) - z[label], "
        "a positive number (the negative log of a probability below 1)",
    )  # fmt: skip


def test_cross_entropy_batch_mean(submission, reference):
    """cross_entropy averages over the batch: 5 copies of an example cost what one does"""
    logits = np.tile([[2.0, -1.0, 0.5, 0.0, 1.0]], (5, 1))
    labels = np.full(5, 2)
    want = reference.cross_entropy(logits, labels)
    expect_close(
        submission.cross_entropy(logits.copy(), labels.copy()), want,
        "cross_entropy must average over the batch (divide by N), not sum: 5 identical examples "
        "have the same mean loss as one",
    )  # fmt: skip


def test_cross_entropy_picks_each_label(submission, reference, classification):
    """cross_entropy uses logits[n, labels[n]] for every example n"""
    logits, labels = classification
    want = reference.cross_entropy(logits, labels)
    expect_close(
        submission.cross_entropy(logits.copy(), labels.copy()), want,
        "cross_entropy picks the wrong logits: example n's loss uses logits[n, labels[n]], i.e. "
        "logits[np.arange(N), labels]; logits[:, labels] takes whole columns, an (N, N) array",
    )  # fmt: skip


def test_cross_entropy_large_logits(submission, classification):
    """cross_entropy stays finite, with no overflow warning, for logits near 1000"""
    logits, labels = classification
    why = (
        "cross_entropy overflows for large logits: exp(1000) is inf. Subtract each row's max m inside "
        "the log-sum-exp: logsumexp(z) = m + log(sum(exp(z - m)))"
    )
    got = expect_raises_nothing(submission.cross_entropy, logits + 1000.0, labels.copy(), why=why)
    expect_finite(got, why)
    # compared with your own value at the unshifted logits: this test is about stability only
    expect_close(
        got, submission.cross_entropy(logits.copy(), labels.copy()),
        "cross_entropy changed when every logit was shifted by the same 1000: softmax, and so the "
        "loss, is shift invariant, but a float64 exp(z) without the max subtracted is not",
    )  # fmt: skip


def test_cross_entropy_confidently_wrong(submission, reference):
    """cross_entropy of a confidently wrong prediction is large and finite, not inf"""
    logits, labels = np.array([[0.0, 800.0, -5.0]]), np.array([0])
    want = reference.cross_entropy(logits, labels)  # ≈ 800: the label's logit trails the winner by 800
    why = (
        "cross_entropy is inf for a confidently wrong prediction: softmax underflows to exactly 0 "
        "(e^-800), and log(0) = -inf. Compute log-softmax as z - logsumexp(z), never log(softmax(z))"
    )
    got = expect_raises_nothing(submission.cross_entropy, logits.copy(), labels.copy(), why=why)
    expect_finite(got, why)
    expect_close(
        got, want,
        "cross_entropy of this confidently wrong prediction must be about 800, the gap between the "
        "winning logit and the label's: an epsilon inside the log caps the loss near 28. Use "
        "z - logsumexp(z)",
    )  # fmt: skip


def test_cross_entropy_grad_single_example(submission, reference):
    """cross_entropy_grad of one example equals the numerical gradient, softmax(z) - onehot"""
    logits, labels = np.array([[2.0, -1.0, 0.5, 0.0, 1.0]]), np.array([2])
    want = reference.cross_entropy_grad(logits, labels)
    numerical = numerical_grad(lambda z: _cross_entropy(z, labels), logits)
    got = submission.cross_entropy_grad(logits.copy(), labels.copy())
    why = (
        "cross_entropy_grad of one example must be softmax(z) - onehot(label): every class gets its "
        "probability, and the label's class gets probability - 1 (onehot - softmax flips the sign)"
    )
    expect_close(got, numerical, why, **NUM)
    expect_close(got, want, why)


def test_cross_entropy_grad_batch_mean(submission, reference, classification):
    """cross_entropy_grad on a batch equals the numerical gradient, with its 1/N"""
    logits, labels = classification
    want = reference.cross_entropy_grad(logits, labels)
    numerical = numerical_grad(lambda z: _cross_entropy(z, labels), logits)
    got = submission.cross_entropy_grad(logits.copy(), labels.copy())
    why = (
        "cross_entropy_grad on a batch of N = 6 disagrees with the numerical gradient: the loss is a "
        "mean over the batch, so each row is (softmax - onehot) / N, with 1 subtracted only at "
        "[n, labels[n]]"
    )
    expect_close(got, numerical, why, **NUM)
    expect_close(got, want, why)


def test_cross_entropy_grad_large_logits(submission, classification):
    """cross_entropy_grad stays finite, with no overflow warning, for logits near 1000"""
    logits, labels = classification
    why = "cross_entropy_grad overflows for large logits: compute its softmax with each row's max subtracted"
    got = expect_raises_nothing(submission.cross_entropy_grad, logits + 1000.0, labels.copy(), why=why)
    expect_finite(got, why)
    # compared with your own gradient at the unshifted logits: this test is about stability only
    expect_close(
        got, submission.cross_entropy_grad(logits.copy(), labels.copy()),
        "cross_entropy_grad changed when every logit was shifted by the same 1000: the gradient is "
        "shift invariant, so compute its softmax from z - max(z)",
    )  # fmt: skip
