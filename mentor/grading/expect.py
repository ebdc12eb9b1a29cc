"""What graders assert with: each failure carries the misconception in plain words and a small diff.

A grader never uses a bare `assert`: the learner sees `why` and the diff, never the grader's source.
"""

from __future__ import annotations

import json
import reprlib
import sys
from typing import Any, Optional, Sequence

import numpy as np

# Bound when the grader starts, before any learner code runs: a submission that patches
# `np.allclose` or `np.isfinite` cannot change what the grader compares with.
_allclose, _asarray, _isfinite, _errstate = np.allclose, np.asarray, np.isfinite, np.errstate
_dumps, _frombuffer, _uint8 = json.dumps, np.frombuffer, np.uint8
_NUMPY_INTEGERS = frozenset(np.dtype(code).type for code in np.typecodes["AllInteger"])

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


def expect_equal(actual: Any, expected: Any, why: str, diff: str = "") -> None:
    """`actual` equals `expected` exactly. Both become plain values first (see `plain`), so the
    learner's object never answers for itself, and are compared as their encodings, the bytes the
    seal checks again: == on plain values, except that True is not 1.
    """
    got, want = plain(actual, why), plain(expected, why, "the expected value")
    got_code, want_code = _encode(got), _encode(want)
    _record(_frombuffer(got_code, dtype=_uint8), _frombuffer(want_code, dtype=_uint8), 0.0, 0.0)
    if got_code != want_code:
        raise Misconception(why, diff or plain_diff(got, want))


def expect_self_check(computed: Any, expected: Any, what: str = "the reference") -> None:
    """A premise of the grader itself, such as the reference giving the value worked out by hand.
    Failing it is a course bug, not the learner's, unless their code changed the reference."""
    why = f"grader self-check: {what} is wrong, a course bug: please report it"
    got, want = plain(computed, why, "the computed value"), plain(expected, why, "the expected value")
    if _encode(got) != _encode(want):
        raise Misconception(why, plain_diff(got, want))


def plain(value: Any, why: str, whose: str = "your value", where: str = "") -> Any:
    """`value` as plain builtins: None, bool, int, float, str, bytes, lists, and dicts with int or
    str keys.

    Found by type checks alone, so the value's own __eq__, __iter__ or __int__ never runs: an int or
    str subclass becomes the int or str it holds; a tuple becomes a list; a whole float becomes the
    int it equals (3.0 == 3 in Python too); NumPy integers and integer tensors of at most one axis
    become ints and lists of ints. Anything else is a Misconception naming the type that came back.
    """
    kind = type(value)
    try:
        if value is None or kind is bool:
            return value
        if issubclass(kind, int):
            return int.__int__(value)
        if issubclass(kind, float):
            number = float.__float__(value)
            return int(number) if number.is_integer() else number
        if issubclass(kind, str):
            return str.__str__(value)
        if issubclass(kind, bytes):
            return bytes.__getitem__(value, slice(None))
        if issubclass(kind, (list, tuple)):
            items = list.__iter__(value) if issubclass(kind, list) else tuple.__iter__(value)
            return [plain(item, why, whose, f"{where}[{i}]") for i, item in enumerate(items)]
        if issubclass(kind, dict):
            mapping = {}
            for key, item in zip(dict.keys(value), dict.values(value)):
                key = _plain_key(key, why, whose, where)
                mapping[key] = plain(item, why, whose, f"{where}[{key!r}]")
            return mapping
        if kind in _NUMPY_INTEGERS:
            return int(value)
        if _is_integer_array(value):
            return value.tolist()
    except TypeError:  # a type that claims to be a builtin but is not one underneath
        pass
    raise _not_plain(kind, why, whose, where)


def _plain_key(key: Any, why: str, whose: str, where: str) -> Any:
    plain_key = plain(key, why, f"a key of {whose}", where)
    if type(plain_key) not in (int, str):
        raise _not_plain(type(key), why, f"a key of {whose}", where)
    return plain_key


def _not_plain(kind: type, why: str, whose: str, where: str) -> Misconception:
    at = f" at {where}" if where else ""
    return Misconception(
        why,
        f"{whose}{at} has type {kind.__name__}: only int, float, str, bytes, bool and None values, and lists, "
        "tuples and dicts of them, are compared exactly",
    )


def _is_integer_array(value: Any) -> bool:
    """A NumPy array or torch tensor (not a subclass) of integers with at most one axis."""
    torch = sys.modules.get("torch")  # never imported here: a tensor exists only if torch is loaded
    if type(value) is np.ndarray:
        return value.dtype.kind in "iu" and value.ndim <= 1
    if torch is not None and type(value) is torch.Tensor:
        dtype = value.dtype
        return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool) and value.dim() <= 1
    return False


def _encode(value: Any) -> bytes:
    """A plain value as ASCII JSON that no other plain value shares: bytes and dicts carry a tag
    (dict keys may be ints), and a dict's items are sorted."""

    def tagged(v):
        if isinstance(v, bytes):
            return {"bytes": v.hex()}
        if isinstance(v, dict):
            return {"dict": sorted(([tagged(k), tagged(x)] for k, x in v.items()), key=_dumps)}
        if isinstance(v, list):
            return [tagged(x) for x in v]
        return v

    return _dumps(tagged(value)).encode("ascii")


_abbreviated = reprlib.Repr()
_abbreviated.maxlist = _abbreviated.maxdict = 12
_abbreviated.maxstring = _abbreviated.maxother = 60


def plain_diff(got: Any, want: Any) -> str:
    """Two plain values, abbreviated."""
    return f"got {_abbreviated.repr(got)}, expected {_abbreviated.repr(want)}"


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
