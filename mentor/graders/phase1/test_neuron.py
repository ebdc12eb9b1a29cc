"""Grader: a single neuron's forward pass."""

import numpy as np
import pytest

from mentor.grading.expect import expect_close, expect_shape


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=3), 0.7


def test_output_shape(submission, batch):
    """returns one output per example: shape (N,)"""
    x, w, b = batch
    out = submission.neuron_forward(x, w, b)
    expect_shape(out, (5,), "a neuron gives one number per example: shape (N,), not (N, D) or (N, 1)")


def test_weighted_sum(submission, reference, batch):
    """computes the weighted sum x·w per example"""
    x, w, _ = batch
    expect_close(
        submission.neuron_forward(x, w, 0.0),
        reference.neuron_forward(x, w, 0.0),
        "the weighted sum is wrong: each output is sum_j x[n, j] * w[j] (did you multiply elementwise "
        "without summing, or contract the wrong axis?)",
    )


def test_bias_added_once(submission, reference, batch):
    """adds the bias exactly once to every example"""
    x, w, b = batch
    expect_close(
        submission.neuron_forward(x, w, b),
        reference.neuron_forward(x, w, b),
        "the bias is missing or added more than once: z = x·w + b adds b once per example",
    )


def test_activation_applied_after_sum(submission, reference, batch):
    """applies the activation to z = x·w + b, not to the inputs"""
    x, w, b = batch
    expect_close(
        submission.neuron_forward(x, w, b, activation=np.tanh),
        reference.neuron_forward(x, w, b, activation=np.tanh),
        "the activation goes on the pre-activation z = x·w + b, after the sum and the bias",
    )


def test_single_example(submission):
    """works for a batch of one, checked against a value computed by hand"""
    x, w = np.array([[1.0, 2.0]]), np.array([0.5, -1.0])
    expect_close(
        submission.neuron_forward(x, w, 0.25),
        np.array([1.0 * 0.5 + 2.0 * -1.0 + 0.25]),  # -1.25: independent of the reference
        "a batch of one example (N=1) must work too: avoid squeezing or indexing away the batch axis",
    )
