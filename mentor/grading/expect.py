"""What graders assert with: each failure carries the misconception in plain words and a small diff.

A grader never uses a bare `assert`: the learner sees `why` and the diff, never the grader's source.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

# Bound when the grader starts, before any learner code runs: a submission that patches
# `np.allclose` or `np.isfinite` cannot change what the grader compares with.
_allclose, _asarray, _isfinite, _errstate = np.allclose, np.asarray, np.isfinite, np.errstate

# Set by the grader plugin: records both sides of each comparison so the runner can check them
# again outside this process (see mentor/grading/seal.py).
recorder = None


def _record(got, want, rtol: float, atol: float) -> None:
    if recorder is not None:
        recorder(got, want, rtol, atol)


class Misconception(AssertionError):
    """A failed expectation: `why` names the likely misconception, `diff` shows the values."""

    def __init__(self, why: str, diff: str = ""):
        super().__init__(why)
        self.why = why
        self.diff = diff


def expect(condition: bool, why: str, diff: str = "") -> None:
    if not condition:
        raise Misconception(why, diff)


def as_array(value: Any, what: str = "your function"):
    """The learner's return value as a NumPy array, or a Misconception saying what came back."""
    if value is None:
        raise Misconception(f"{what} returned None: did you forget `return`?")
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return _asarray(value, dtype=float) if not isinstance(value, np.ndarray) else value
    except (TypeError, ValueError):
        raise Misconception(f"{what} should return an array, got {type(value).__name__}") from None


def expect_shape(actual: Any, shape: Sequence[int], why: str) -> None:
    arr = as_array(actual)
    _record(_asarray(arr.shape), _asarray(tuple(shape)), 0.0, 0.0)
    expect(tuple(arr.shape) == tuple(shape), why, f"shape: got {tuple(arr.shape)}, expected {tuple(shape)}")


def expect_finite(actual: Any, why: str) -> None:
    arr = as_array(actual)
    bad = ~_isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise Misconception(why, f"{int(bad.sum())} of {arr.size} values are nan/inf, first at index {idx}: {arr[idx]}")


def expect_close(actual: Any, expected: Any, why: str, *, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """`actual` matches `expected` in shape and value within rtol/atol."""
    got, want = as_array(actual), as_array(expected)
    _record(got, want, rtol, atol)
    if got.shape != want.shape:
        raise Misconception(why, f"shape: got {got.shape}, expected {want.shape}")
    if not _allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
        raise Misconception(why, value_diff(got, want))


def value_diff(got, want) -> str:
    """A few lines a learner can read: the worst element, and both arrays abbreviated."""
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(float) - want.astype(float))
    err = np.where(np.isnan(err), np.inf, err)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    idx = tuple(int(i) for i in idx)
    with np.printoptions(precision=4, threshold=12, edgeitems=2, suppress=True, linewidth=88):
        lines = [
            f"largest difference at index {idx}: got {got[idx]:.6g}, expected {want[idx]:.6g}",
            f"got:      {np.array2string(got, prefix='got:      ')}",
            f"expected: {np.array2string(want, prefix='expected: ')}",
        ]
    return "\n".join(lines)


def expect_raises_nothing(fn, *args, why: str, errstate: Optional[dict] = None, **kwargs):
    """Call `fn`; a NumPy floating-point warning (overflow, invalid) becomes a Misconception."""
    with _errstate(**(errstate or {"over": "raise", "invalid": "raise", "divide": "raise"})):
        try:
            return fn(*args, **kwargs)
        except FloatingPointError as e:
            raise Misconception(why, f"NumPy reported: {e}") from None
