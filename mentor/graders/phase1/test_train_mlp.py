"""Grader: training the learner's own MLP on spirals with gradient descent, and measuring accuracy."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mentor.grading.expect import as_array, expect, expect_close, expect_equal

HIDDEN, LR, STEPS, SEED = 64, 1.0, 1000, 0
SHORT_LR = 0.3  # the short trajectory tests: any lr but 1 tells a step that ignores it
# The reference reaches 0.99 held-out accuracy with these settings (0.98 or more over 20 data and
# init seeds), while the classic mistakes land far below: zero init 0.33, frozen biases about 0.5.
# 0.90 leaves room for harmless differences in the loop and still rejects a network that has not learnt.
MIN_ACCURACY = 0.90
KEYS = ("W1", "b1", "W2", "b2")


def learner_mlp(submission):
    """The learner's mlp.py beside their train_mlp.py: the module their `from mlp import ...` reads."""
    path = Path(submission.__file__).with_name("mlp.py")
    expect(path.is_file(), f"train_mlp.py imports your mlp.py from p1.mlp.backprop, but there is none beside it ({path})")
    module = sys.modules.get("mlp")
    if module is not None and Path(getattr(module, "__file__", "") or "").resolve() == path.resolve():
        return module
    spec = importlib.util.spec_from_file_location("learner_mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spirals(reference):
    """Training and held-out points: the same three arms, independent noise."""
    return reference.make_spirals(100, 3, seed=0), reference.make_spirals(100, 3, seed=1)


@pytest.fixture(scope="module")
def trained(submission, spirals):
    """The learner's train() run once on the training spiral; several tests read the result."""
    (x, labels), _ = spirals
    params, losses = submission.train(x, labels, hidden=HIDDEN, lr=LR, steps=STEPS, seed=SEED)
    return params, losses


def test_your_mlp_from_previous_step_agrees(submission, reference):
    """the loss_and_grads that train() builds on (your mlp.py) matches the reference"""
    rng = np.random.default_rng(0)
    params = reference.init_params(3, 5, 4, seed=0)
    params["b1"], params["b2"] = 0.1 * rng.normal(size=5), 0.1 * rng.normal(size=4)
    x, labels = rng.normal(size=(6, 3)), np.array([0, 3, 1, 1, 2, 3])
    want_loss, want = reference.loss_and_grads({k: v.copy() for k, v in params.items()}, x, labels)
    loss, grads = learner_mlp(submission).loss_and_grads({k: v.copy() for k, v in params.items()}, x, labels)

    def same(got, expected):
        try:
            got = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return False
        return got.shape == np.shape(expected) and np.allclose(got, expected, rtol=1e-6, atol=1e-9)

    grads = grads if isinstance(grads, dict) else {}
    wrong = ["loss"] if not same(loss, want_loss) else []
    wrong += [f"d{k}" for k in KEYS if not same(grads.get(k), want[k])]
    expect(
        not wrong,
        "your loss_and_grads from p1.mlp.backprop disagrees with the reference: fix it first "
        "(mentor check p1.mlp.backprop), since train() can only be as right as the gradients it follows",
        f"wrong on a small batch: {', '.join(wrong)}",
    )
    # train() itself runs here too, so that an untouched stub reads as not started
    submission.train(x, labels, hidden=4, lr=0.1, steps=2, seed=0)


def test_loss_goes_down(submission, trained):
    """the training loss ends lower than it started"""
    _, losses = trained
    losses = as_array(losses, "train")
    expect_equal(losses.shape, (STEPS,), "train must return one loss per step: losses[t] is the loss step t starts from",
                 f"got {losses.shape[0] if losses.ndim == 1 else losses.shape} values for {STEPS} steps")  # fmt: skip
    first, last = losses[: STEPS // 10].mean(), losses[-STEPS // 10 :].mean()
    # a real decrease: the reference ends near 0.05 from about 1.1, far below 0.9 × the start
    expect(
        bool(np.isfinite(last) and last < 0.9 * first),
        "the loss did not go down: gradient descent steps downhill, params[k] = params[k] − lr · grads[k]. "
        "The gradient points uphill, so adding the gradient climbs the loss (and a loss that stays flat "
        "means the parameters are not learning)",
        f"mean loss over the first 10% of steps: {first:.4g}, over the last 10%: {last:.4g}",
    )


def test_hidden_units_differ(submission, trained):
    """after training, the hidden units are not all copies of one another"""
    params, _ = trained
    w1 = as_array(params["W1"], "train")
    spread = float(np.ptp(w1, axis=1).max()) if w1.ndim == 2 else 0.0  # across hidden units, per input
    expect(
        not spread <= 1e-6,  # nan weights (a diverged run) are other tests' business
        "all hidden units ended up identical: if every weight starts at the same value (all zeros), every hidden "
        "unit computes the same output and receives the same gradient, so they stay copies forever; the symmetry "
        "is never broken. Start from init_params' random weights",
        f"largest difference between two hidden units' incoming weights: {spread:.3g}",
    )


def test_every_parameter_is_updated(submission, reference, spirals):
    """each step updates W1, b1, W2 and b2 by plain gradient descent"""
    (x, labels), _ = spirals
    start = reference.init_params(2, HIDDEN, 3, SEED)
    # lr = 0.3, not the 1.0 used for the accuracy: with lr = 1 a step that forgets lr is the same step
    want, want_losses = reference.train(x, labels, hidden=HIDDEN, lr=SHORT_LR, steps=3, seed=SEED)
    got, losses = submission.train(x, labels, hidden=HIDDEN, lr=SHORT_LR, steps=3, seed=SEED)
    why = (
        "not every parameter follows gradient descent: starting from init_params(D, hidden, C, seed), every step "
        "must update all four parameters, W1, b1, W2 and b2, with p − lr · grad (one left out keeps its initial "
        "value and the network cannot fit)"
    )
    expect(isinstance(got, dict) and all(k in got for k in KEYS), why, "train should return a dict with keys W1, b1, W2, b2")
    frozen = [k for k in KEYS if np.shape(got[k]) == start[k].shape and np.array_equal(as_array(got[k], "train"), start[k])]
    expect(not frozen, why, f"unchanged after 3 steps: {', '.join(frozen)}")
    one_step, _ = reference.train(x, labels, hidden=HIDDEN, lr=SHORT_LR, steps=1, seed=SEED)
    mine, _ = submission.train(x, labels, hidden=HIDDEN, lr=SHORT_LR, steps=1, seed=SEED)
    scaled = [k for k in KEYS if k in mine and _step_ignores_lr(mine[k], one_step[k], start[k], SHORT_LR)]
    expect(
        not scaled, "each step must move the parameters by lr · grad: the learning rate scales the step",
        f"with lr={SHORT_LR}, {', '.join(scaled)} moved by the whole gradient after one step, as if lr were 1",
    )
    for key in KEYS:
        # three steps of the same float64 arithmetic: differences stay near rounding, far inside 1e-7
        expect_close(got[key], want[key], f"{why} ({key} differs after 3 steps, lr={SHORT_LR})", rtol=1e-7, atol=1e-10)
    expect_close(
        np.asarray(losses, dtype=float), np.asarray(want_losses, dtype=float),
        "losses[i] is the loss of the parameters before step i: record it from loss_and_grads, then update",
        rtol=1e-7, atol=1e-10,
    )  # fmt: skip


def _step_ignores_lr(got, want, start, lr) -> bool:
    """True when one step moved `got` by grad instead of lr · grad (the reference moved by lr · grad)."""
    got = np.asarray(got, dtype=float)
    return got.shape == start.shape and np.allclose(got - start, (want - start) / lr, rtol=1e-6, atol=1e-12)


def test_held_out_accuracy(reference, trained, spirals):
    """the trained network classifies unseen spiral points with at least 90% accuracy"""
    params, _ = trained
    _, (x_test, labels_test) = spirals
    acc = reference.accuracy({k: as_array(params[k], "train") for k in KEYS}, x_test, labels_test)
    expect(
        acc >= MIN_ACCURACY,
        f"after training, your network gets {acc:.0%} of the held-out spiral points right, below the "
        f"{MIN_ACCURACY:.0%} required (the reference reaches 99%): it has not learnt the spirals",
        f"held-out accuracy {acc:.3f} after {STEPS} steps with hidden={HIDDEN}, lr={LR}",
    )


def test_accuracy_uses_class_axis(submission, reference, spirals):
    """accuracy is the fraction of examples whose argmax over the classes equals the label"""
    # logits == x for these identity weights and non-negative x: every row's argmax is its label,
    # and N == C, so an argmax over the wrong axis gives a wrong number instead of an error
    eye = np.eye(3)
    square = {"W1": eye, "b1": np.zeros(3), "W2": eye, "b2": np.zeros(3)}
    x_sq, labels_sq = np.array([[1.0, 0.0, 0.0], [2.0, 3.0, 0.0], [2.0, 0.0, 3.0]]), np.array([0, 1, 2])
    _, (x_test, labels_test) = spirals
    random_net = reference.init_params(2, 16, 3, seed=3)
    want_sq = reference.accuracy(square, x_sq, labels_sq)
    want = reference.accuracy(random_net, x_test, labels_test)
    why = (
        "accuracy is the fraction (0 to 1) of examples whose highest logit is their label: the predicted class "
        "is the argmax over the class axis (axis=1) of the (N, C) logits, one per example"
    )
    expect_close(submission.accuracy(square, x_sq, labels_sq), want_sq, why)
    expect_close(submission.accuracy(random_net, x_test, labels_test), want, why)
