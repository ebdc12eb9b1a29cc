"""Grader: symmetric absmax INT8 quantization per tensor, per output channel and per group, and back.

quantize runs on hand-set rows (exact ties, negative-dominant rows, all-zero rows and groups) and on
generated weights: shapes from 1 x 1 up, odd sizes, rows whose scales differ by 1e6, outliers, in
float32, bfloat16 and float16. Its codes must agree with the reference's (a difference of one code is
accepted only where w / scale lies within 1e-4 of a half, where any correct order of float operations may
round either way), its scales must match, and every element must obey |w - q·scale| <= scale / 2.
dequantize runs on the reference's codes and scales. When a value differs, the classic mistakes are
worked out from the same weights (max instead of absmax, 128 levels, truncation, floor, columns instead
of rows, groups down the columns, ...) and the one that reproduces the learner's values is named.
"""

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_self_check

# Bound before any learner code runs: the expected values never go through a patched name.
_equal, _repeat_interleave = torch.equal, torch.repeat_interleave

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# A correct scale is absmax / 127 in float32 (one correctly rounded division); computing it in float64 and
# rounding to float32 moves it by at most one ulp, 6e-8 relative. A scale taken in bfloat16 is off by ~4e-3.
SCALE_TOL = dict(rtol=1e-6, atol=0.0)
# Near a tie (w / scale within TIE of k + 1/2) any correct order of float32 operations (w * (1 / scale),
# w / scale, float64) may round to either neighbour: the float32 error of w / scale is below 127 · 1.2e-7.
TIE = 1e-4
# The bound |w - q·scale| <= scale / 2 holds exactly for the real ratio; the float32 ratio adds < 2e-5 of a step.
BOUND_SLACK = 1e-4

# -- messages -----------------------------------------------------------------------------------------
NOT_INT8 = "q must be a torch.int8 tensor: the point of INT8 is one byte per weight (use .to(torch.int8) after rounding and clamping)"
SCALE_NOT_FP32 = (
    "the scales must be float32 whatever the weight's dtype: a bfloat16 or float16 scale carries only 8 or 11 bits, "
    "and every weight of its row or group inherits that error"
)
MAX_NOT_ABSMAX = (
    "the scale comes from the largest value, not the largest magnitude: a row whose biggest weight is negative "
    "(-3 next to +1) must use absmax = max(|w|), or its negative weights clip at -127"
)
LEVELS_128 = (
    "the scale divides by 128, not 127: symmetric INT8 uses the codes -127..127 so that +x and -x get opposite "
    "codes; scale = absmax / 127 maps the largest magnitude to exactly 127, and -128 is never used"
)
LEVELS_255 = (
    "the scale divides by 255 (or 256), the levels of unsigned 8-bit: symmetric INT8 maps absmax to 127, "
    "scale = absmax / 127"
)
RECIPROCAL = "the scale is inverted (127 / absmax): scale = absmax / 127 is the size of one step, so that w ≈ q · scale"
NOT_DIVIDED = "the scale is absmax itself: one step is absmax / 127, so that the largest magnitude gets the code 127"
COLUMNS = (
    "the per-channel scales are taken down the columns: a channel is an output row of the (out_features, "
    "in_features) weight, so take absmax over dim 1 (the inputs), one scale per row, shape (out_features, 1)"
)
GROUPS_DOWN_COLUMNS = (
    "the groups run down the columns: a group is group_size consecutive input columns of one row, "
    "w.view(out_features, in_features // group_size, group_size), and its scale is that group's absmax / 127"
)
ROW_NOT_GROUP = (
    "each group uses its row's absmax instead of its own: the point of groups is that a group without an outlier "
    "keeps a fine step; take absmax over each group of group_size columns"
)
EPS_FLOOR = (
    "an eps added to (or a floor on) the scale changes it for rows with small weights: the scale is exactly "
    "absmax / 127, and only an all-zero row or group (scale 0) needs a guard when dividing"
)
SCALE_NARROW = (
    "the scale was computed in the weight's own dtype and widened afterwards: widen the weight to float32 first, "
    "then take absmax / 127"
)
TRUNCATED = (
    "the codes are truncated toward zero (.to(torch.int8) or .int() without rounding): round to the nearest code "
    "first, torch.round(w / scale), so the error is at most half a step"
)
FLOORED = "the codes are rounded down (floor): round to the nearest code, torch.round(w / scale), so the error is at most half a step"
CEILED = "the codes are rounded up (ceil): round to the nearest code, torch.round(w / scale), so the error is at most half a step"
HALF_AWAY = (
    "ties round away from zero (floor(|x| + 0.5)): torch.round rounds half to even, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2; "
    "the task asks for torch.round's rule"
)
NARROW_DIVIDE = (
    "w / scale was computed in the weight's own dtype (bfloat16 or float16) and rounded there: its 8 (or 11) bits "
    "cannot tell 117 from 118. Widen the weight to float32 before dividing"
)
CLAMP_128 = "a code of -128 appeared: symmetric INT8 clamps to [-127, 127], so that the codes of +x and -x are opposite"
ZERO_NAN = (
    "an all-zero row or group gives nan: its absmax is 0, so w / scale is 0 / 0. Give it scale 0 and code 0 "
    "(divide by 1 where the scale is 0), so it dequantizes to exactly 0"
)
ZERO_SCALE = (
    "an all-zero row or group must get scale exactly 0 (absmax / 127 = 0) and code 0, so that it dequantizes to 0 "
    "(the task: scale 0, not a tiny floor)"
)
DEQ_REPEAT = (
    "dequantize tiles the group scales (repeat: g0 g1 g0 g1 ...) instead of giving each group's scale to its own "
    "group_size consecutive columns (repeat_interleave: g0 g0 g1 g1 ...)"
)
DEQ_DIVIDES = "dequantize divides by the scale: w_hat = q · scale, the code times the step size"
DEQ_NOT_FP32 = "dequantize returns float32: the int8 codes times the float32 scales, as a float32 tensor"
CHANGED_W = "quantize changed its input in place (w.div_ or w /= scale): compute w / scale as a new tensor, the weight stays as it was"
CHANGED_QS = "dequantize changed its input in place (q or scale): compute q · scale as a new tensor"

# -- inputs -------------------------------------------------------------------------------------------


def gen(seed):
    """A private random generator: the expected values never depend on the global random state."""
    return torch.Generator().manual_seed(seed)


def weights(out_features, in_features, seed, dtype=torch.float32, row_scales=None, outliers=0):
    """A (out, in) weight: normal rows, each row scaled by row_scales (1 by default), `outliers` entries x 20."""
    g = gen(seed)
    w = torch.randn(out_features, in_features, generator=g, dtype=torch.float64)
    if row_scales is not None:
        w = w * torch.as_tensor(row_scales, dtype=torch.float64).view(-1, 1)
    for _ in range(outliers):
        i = int(torch.randint(out_features, (1,), generator=g))
        j = int(torch.randint(in_features, (1,), generator=g))
        w[i, j] *= 20.0
    return w.to(dtype)


def name_of(dtype):
    return str(dtype).removeprefix("torch.")


# -- what the mistakes give, from the same weights ----------------------------------------------------------


def absmax_of(w64, granularity, group_size):
    """absmax per tensor (), per row (out, 1), or per group (out, in // g), in float64."""
    out_features, in_features = w64.shape
    if granularity == "tensor":
        return w64.abs().amax()
    if granularity == "channel":
        return w64.abs().amax(dim=1, keepdim=True)
    return w64.view(out_features, in_features // group_size, group_size).abs().amax(dim=-1)


def per_element(scale, group_size):
    return _repeat_interleave(scale, group_size, dim=1) if group_size else scale


def scale_mistakes(w, granularity, group_size):
    """[(scales, why)]: the classic mistakes of the scale on this weight, each in the reference's shape."""
    w64 = w.double()
    out_features, in_features = w.shape
    amax = absmax_of(w64, granularity, group_size)
    if granularity == "tensor":
        signed = w64.amax()
    elif granularity == "channel":
        signed = w64.amax(dim=1, keepdim=True)
    else:
        signed = w64.view(out_features, in_features // group_size, group_size).amax(dim=-1)
    mistakes = [
        (signed / 127, MAX_NOT_ABSMAX),
        (amax / 128, LEVELS_128),
        (amax / 127.5, LEVELS_128),
        (amax / 255, LEVELS_255),
        (amax / 256, LEVELS_255),
        (127 / amax, RECIPROCAL),
        (amax, NOT_DIVIDED),
    ]
    if w.dtype != torch.float32:
        mistakes.append((absmax_of(w, granularity, group_size) / 127, SCALE_NARROW))  # in the weight's dtype
    if granularity == "channel" and out_features == in_features:
        mistakes.append((w64.abs().amax(dim=0).view(-1, 1) / 127, COLUMNS))
    if granularity == "group":
        mistakes.append((w64.abs().amax(dim=1, keepdim=True).expand(-1, in_features // group_size) / 127, ROW_NOT_GROUP))
        if out_features % group_size == 0:
            down = w64.t().reshape(-1, group_size).abs().amax(dim=-1).reshape(out_features, in_features // group_size)
            mistakes.append((down / 127, GROUPS_DOWN_COLUMNS))
    return [(m.double(), why) for m, why in mistakes]


def code_mistakes(w, scale, group_size):
    """[(codes, why)]: the classic rounding mistakes, from the reference's scale."""
    s = per_element(scale.double(), group_size)
    ratio = w.double() / torch.where(s > 0, s, torch.ones_like(s))
    mistakes = [
        (ratio.trunc(), TRUNCATED),
        (ratio.floor(), FLOORED),
        (ratio.ceil(), CEILED),
        (ratio.sign() * (ratio.abs() + 0.5).floor(), HALF_AWAY),
    ]
    if w.dtype != torch.float32:
        narrow = per_element(scale.to(w.dtype), group_size)
        mistakes.append(((w / torch.where(narrow > 0, narrow, torch.ones_like(narrow))).round().double(), NARROW_DIVIDE))
    return [(m.clamp(-127, 127), why) for m, why in mistakes]


# -- calling the learner's code -----------------------------------------------------------------------------


def call_quantize(submission, w, granularity, group_size, where):
    """The learner's quantize on a copy of w: (q, scale), checked for type and dtype; w must stay unchanged."""
    original = w.clone()
    out = submission.quantize(w, granularity, group_size) if group_size else submission.quantize(w, granularity)
    expect(_equal(w, original), CHANGED_W, where)
    expect(out is not None, "quantize returned None: did you forget `return`?")
    expect(isinstance(out, tuple) and len(out) == 2, "quantize returns a tuple (q, scale)", f"{where}: got {type(out).__name__}")
    q, scale = out
    expect(isinstance(q, torch.Tensor) and isinstance(scale, torch.Tensor), "quantize returns two tensors (q, scale)", where)
    expect(q.dtype == torch.int8, NOT_INT8, f"{where}: q.dtype is {q.dtype}")
    expect(tuple(q.shape) == tuple(w.shape), "q has the weight's shape (out_features, in_features)", f"{where}: q.shape {tuple(q.shape)}, w {tuple(w.shape)}")
    return q, scale


def expect_scale_shape(scale, w, granularity, group_size, where):
    out_features, in_features = w.shape
    shape = tuple(scale.shape)
    if granularity == "tensor":
        expect(shape == (), "the per-tensor scale is one number, a 0-dim tensor (w.abs().amax() / 127), shape ()", f"{where}: shape {shape}")
    elif granularity == "channel":
        columns = shape in ((1, in_features), (in_features,)) and in_features != out_features
        expect(not columns, COLUMNS, f"{where}: scale shape {shape} for a weight of {tuple(w.shape)}")
        expect(shape == (out_features, 1), "the per-channel scales have shape (out_features, 1), one per output row (keepdim=True)", f"{where}: shape {shape}")
    else:
        want = (out_features, in_features // group_size)
        down = (out_features // group_size, in_features)
        expect(not (shape == down and down != want), GROUPS_DOWN_COLUMNS, f"{where}: scale shape {shape}, expected {want}")
        expect(shape == want, "the group scales have shape (out_features, in_features // group_size): one per group of each row", f"{where}: shape {shape}")
    expect(scale.dtype == torch.float32, SCALE_NOT_FP32, f"{where}: scale.dtype is {scale.dtype}")


def same(got, want):
    return got.shape == want.shape and bool(torch.allclose(got.double(), want.double(), rtol=1e-6, atol=0.0, equal_nan=False))


def expect_scale(scale, want, w, granularity, group_size, where):
    if same(scale, want):
        return
    got = scale.double()
    expect(not bool(torch.isnan(got).any()), ZERO_NAN, f"{where}: nan in the scales")
    for values, why in scale_mistakes(w, granularity, group_size):
        if values.shape == got.shape and bool(torch.allclose(got, values, rtol=1e-5, atol=0.0)):
            raise Misconception(why, _diff(got, want.double(), where))
    small = want.double() < 1e-4
    if bool(small.any()) and bool(torch.allclose(got[~small], want.double()[~small], rtol=1e-6, atol=0.0)):
        zero = want.double() == 0
        if bool(zero.any()) and not bool(small[~zero].any()):
            raise Misconception(ZERO_SCALE, _diff(got, want.double(), where))
        raise Misconception(EPS_FLOOR, _diff(got, want.double(), where))
    if bool(torch.allclose(got, want.double(), rtol=1e-2, atol=0.0)):
        raise Misconception(
            "the scales agree with absmax / 127 only to about 1e-3, a difference of precision alone: is absmax or the "
            "division taken in bfloat16 or float16?",
            _diff(got, want.double(), where),
        )
    raise Misconception(f"the scales differ from absmax / 127 ({where})", _diff(got, want.double(), where))


def near_tie(w, scale, group_size):
    """Elements whose w / scale lies within TIE of k + 1/2: either neighbour is a correct rounding there."""
    s = per_element(scale.double(), group_size)
    ratio = w.double() / torch.where(s > 0, s, torch.ones_like(s))
    return ((ratio - ratio.floor()) - 0.5).abs() < TIE


def expect_codes(q, want_q, w, want_scale, group_size, where):
    """The codes equal the reference's, one code apart only at near-ties; otherwise the mistake is named."""
    got, want = q.long(), want_q.long()
    expect(int(got.min()) >= -127, CLAMP_128, f"{where}: min code {int(got.min())}")
    off = (got - want).abs()
    tie = near_tie(w, want_scale, group_size)
    if bool((off == 0).all()) or bool(((off == 0) | ((off == 1) & tie)).all()):
        return
    for values, why in code_mistakes(w, want_scale, group_size):
        fits = (got == values.long()) | tie
        if bool(fits.all()) and not bool((values.long() == want).all()):
            raise Misconception(why, _diff(got, want, where))
    raise Misconception(f"the codes q differ from round(w / scale) ({where})", _diff(got, want, where))


def expect_bound(q, scale, w, group_size, where):
    """The property of round-to-nearest: every element within half a step of its weight."""
    s = per_element(scale.double(), group_size).expand(w.shape)
    err = (w.double() - q.double() * s).abs()
    bad = err > s * (0.5 + BOUND_SLACK) + 1e-30
    if bool(bad.any()):
        i, j = (int(v) for v in bad.nonzero()[0])
        raise Misconception(
            "an element is more than half a step from its weight: |w - q·scale| <= scale / 2 holds for round-to-nearest "
            "with scale = absmax / 127",
            f"{where}: at [{i}, {j}] w = {float(w[i, j]):.6g}, q = {int(q[i, j])}, scale = {float(s[i, j]):.6g}, error "
            f"{float(err[i, j]):.6g} = {float(err[i, j] / s[i, j]):.3f} steps",
        )


def _diff(got, want, where):
    g, w = got.flatten().tolist(), want.flatten().tolist()
    bad = [k for k, (a, b) in enumerate(zip(g, w)) if a != b][:4] or list(range(min(4, len(g))))
    shown = ", ".join(f"[{k}] {g[k]:.6g} (expected {w[k]:.6g})" for k in bad)
    return f"{where}: {shown} (flat indices), shape {tuple(got.shape)}"


def check_quantize(submission, reference, w, granularity, group_size, where):
    """quantize agrees with the reference on w: shapes, dtypes, scales, codes, the half-step bound."""
    want_q, want_scale = reference.quantize(w.clone(), granularity, group_size)
    q, scale = call_quantize(submission, w, granularity, group_size, where)
    expect_scale_shape(scale, w, granularity, group_size, where)
    expect_scale(scale, want_scale, w, granularity, group_size, where)
    expect_codes(q, want_q, w, want_scale, group_size, where)
    expect_bound(q, scale, w, group_size if granularity == "group" else None, where)
    return q, scale


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- quantize: hand-set rows -------------------------------------------------------------------------------


def test_hand_set_rows_per_channel(submission, reference):
    """per channel: one scale per output row, absmax / 127, codes round(w / scale); a negative-dominant row"""
    w = torch.tensor([[127.0, -63.5, 0.2, 1.0], [-3.0, 1.0, 0.0, 1.5], [0.5, 0.25, -0.125, 0.0]])
    want_q, _ = reference.quantize(w, "channel")
    expect_self_check(want_q[0].tolist(), [127, -64, 0, 1], "the reference's codes of row 0 (scale exactly 1)")
    check_quantize(submission, reference, w, "channel", None, "rows [127, -63.5, 0.2, 1], [-3, 1, 0, 1.5], [0.5, 0.25, -0.125, 0]")


def test_round_half_to_even(submission, reference):
    """exact ties round half to even as torch.round does: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0"""
    w = torch.tensor([[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.4999, 0.5001]])  # scale exactly 1
    want_q, _ = reference.quantize(w, "channel")
    expect_self_check(want_q.tolist(), [[127, 0, 2, 2, 0, -2, -2, 4, 0, 1]], "the reference's codes of exact ties")
    q, scale = call_quantize(submission, w, "channel", None, "ties at scale 1")
    expect_scale(scale, torch.ones(1, 1), w, "channel", None, "a row of absmax 127")
    got = q.long().flatten()
    for values, why in code_mistakes(w, torch.ones(1, 1), None):
        if _equal(got, values.long().flatten()) and not _equal(got, want_q.long().flatten()):
            raise Misconception(why, _diff(got, want_q.long().flatten(), "w = [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.4999, 0.5001]"))
    expect(_equal(got, want_q.long().flatten()), "the codes of exact ties differ from torch.round's (round half to even)", _diff(got, want_q.long().flatten(), "ties at scale 1"))


def test_negative_dominant_rows(submission, reference):
    """rows, groups and tensors whose largest magnitude is negative: the scale is max(|w|), not max(w)"""
    w = -weights(6, 8, seed=3).abs() * torch.tensor([1.0, 2, 3, 4, 5, 6]).view(-1, 1)
    w[:, 0] = 0.1  # each row has a small positive value: max(w) = 0.1, absmax is far larger
    for granularity, group_size in (("tensor", None), ("channel", None), ("group", 4)):
        check_quantize(submission, reference, w, granularity, group_size, f"negative-dominant rows, {granularity}")


def test_per_channel_axis_is_the_output_row(submission, reference):
    """per channel means per output row: rows of very different scale each get their own, columns do not"""
    w = weights(4, 4, seed=5, row_scales=[1.0, 10.0, 0.1, 100.0])  # square: column maxima fit the rows' shape
    check_quantize(submission, reference, w, "channel", None, "4 x 4, rows scaled 1, 10, 0.1, 100")
    w = weights(3, 5, seed=4, row_scales=[1e-3, 1.0, 1e3])
    check_quantize(submission, reference, w, "channel", None, "3 x 5, rows scaled 1e-3, 1, 1e3")
    w = weights(3, 6, seed=12, row_scales=[1e-7, 1e-2, 1.0])  # a row of tiny weights still gets its own step
    check_quantize(submission, reference, w, "channel", None, "3 x 6, rows scaled 1e-7, 1e-2, 1")


def test_groups_run_along_the_input(submission, reference):
    """a group is group_size consecutive input columns of one row: an outlier only coarsens its own group"""
    w = weights(4, 16, seed=6)
    w[1, 2] = 40.0  # one outlier: only group 0 of row 1 should get a coarse step
    check_quantize(submission, reference, w, "group", 4, "4 x 16, group_size 4, one outlier at [1, 2]")
    w = weights(8, 8, seed=7, row_scales=[1, 2, 4, 8, 16, 32, 64, 128])
    check_quantize(submission, reference, w, "group", 2, "8 x 8, group_size 2, rows scaled 1 to 128")
    check_quantize(submission, reference, w, "group", 8, "8 x 8, group_size 8 = in_features (per channel)")
    check_quantize(submission, reference, w, "group", 1, "8 x 8, group_size 1 (a scale per weight)")


def test_per_tensor_one_scale(submission, reference):
    """per tensor: one 0-dim scale for the whole matrix; an outlier sets the step for every weight"""
    w = weights(5, 7, seed=8, outliers=1)
    check_quantize(submission, reference, w, "tensor", None, "5 x 7 with one outlier, per tensor")


def test_zero_rows_and_groups(submission, reference):
    """an all-zero row or group gets scale 0 and codes 0, no nan, and dequantizes to exactly 0"""
    w = weights(4, 8, seed=9)
    w[1] = 0.0
    w[2, 4:] = 0.0
    for granularity, group_size in (("channel", None), ("group", 4), ("tensor", None)):
        x = w if granularity != "tensor" else torch.zeros(3, 4)
        where = f"{'all zeros' if granularity == 'tensor' else 'row 1 zero, row 2 half zero'}, {granularity}"
        q, scale = call_quantize(submission, x, granularity, group_size, where)
        expect(not bool(torch.isnan(scale).any()), ZERO_NAN, f"{where}: scale {scale.flatten().tolist()}")
        check_quantize(submission, reference, x, granularity, group_size, where)
        back = submission.dequantize(q, scale, group_size) if group_size else submission.dequantize(q, scale)
        expect(isinstance(back, torch.Tensor), "dequantize returns a tensor", where)
        expect(not bool(torch.isnan(back).any()), ZERO_NAN, f"{where}: nan after dequantize")
        expect(bool((back[x == 0] == 0).all()), "an all-zero row or group must dequantize to exactly 0", where)


def test_bad_group_size(submission, reference):
    """group_size that does not divide in_features (0 included) raises ValueError naming both numbers; none given too"""
    w = weights(3, 10, seed=10)
    with pytest.raises(ValueError):
        reference.quantize(w, "group", 4)
    for group_size in (4, 3, 20, 0):
        where = f"in_features 10, group_size {group_size}"
        try:
            submission.quantize(w.clone(), "group", group_size)
        except ValueError as e:
            message = str(e)
            expect(
                str(group_size) in message and "10" in message,
                "the ValueError for a group size that does not divide in_features names both numbers, so the caller "
                "sees what to change",
                f"{where}: message {message!r}",
            )
            continue
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001 - the type is the finding
            raise Misconception(
                "a group_size that does not divide in_features must raise ValueError, not another error",
                f"{where}: {type(e).__name__}: {e}",
            ) from None
        raise Misconception(
            "a group_size that does not divide in_features must raise ValueError: the last group would be short, or "
            "columns silently dropped",
            f"{where}: no error",
        )
    try:
        submission.quantize(w.clone(), "group")
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001
        raise Misconception("granularity 'group' without a group_size must raise ValueError", f"{type(e).__name__}: {e}") from None
    raise Misconception("granularity 'group' without a group_size must raise ValueError", "no error")


# -- dequantize --------------------------------------------------------------------------------------------


def test_dequantize(submission, reference):
    """dequantize gives q · scale in float32 for each granularity, each group's scale on its own columns"""
    w = weights(6, 12, seed=11, row_scales=[1, 3, 0.5, 2, 8, 0.1])
    for granularity, group_size in (("tensor", None), ("channel", None), ("group", 3), ("group", 4)):
        where = f"6 x 12, {granularity}" + (f", group_size {group_size}" if group_size else "")
        q, scale = reference.quantize(w, granularity, group_size)
        want = reference.dequantize(q, scale, group_size)
        q_in, scale_in = q.clone(), scale.clone()
        got = submission.dequantize(q_in, scale_in, group_size) if group_size else submission.dequantize(q_in, scale_in)
        expect(_equal(q_in, q) and _equal(scale_in, scale), CHANGED_QS, where)
        expect(isinstance(got, torch.Tensor), "dequantize returns a tensor", f"{where}: got {type(got).__name__}")
        expect(got.dtype == torch.float32, DEQ_NOT_FP32, f"{where}: got {got.dtype}")
        expect(tuple(got.shape) == tuple(w.shape), "dequantize returns the weight's shape (out_features, in_features)", f"{where}: got {tuple(got.shape)}")
        if group_size and not same(got, want):
            tiled = q.double() * scale.double().repeat(1, group_size)
            expect(not same(got, tiled), DEQ_REPEAT, _diff(got, want, where))
        if not same(got, want):
            s = per_element(scale.double(), group_size)
            expect(not same(got, q.double() / s), DEQ_DIVIDES, _diff(got, want, where))
        expect_close(got, want, f"dequantize differs from q · scale ({where})", rtol=1e-6, atol=0.0)


# -- generated weights -------------------------------------------------------------------------------------

# Generated inputs: a fixed, bounded sample (derandomized, no example database), so every run sees the same.
PROPERTY = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)  # fmt: skip


@pytest.fixture
def examples_independent_of_your_code(monkeypatch):
    """Hypothesis mixes into its examples the constants written in local modules, your file among them: the
    generated inputs would then depend on your code. While a property test runs, it draws from its own only."""
    try:
        from hypothesis.internal.conjecture import providers

        empty = providers.Constants()
        monkeypatch.setattr(providers, "_get_local_constants", lambda: empty)
        providers.CONSTANTS_CACHE.cache.clear()
    except (ImportError, AttributeError):  # another Hypothesis: its examples are what they are
        providers = None
    yield
    if providers is not None:
        providers.CONSTANTS_CACHE.cache.clear()


def test_generated_weights(submission, reference, examples_independent_of_your_code):
    """generated weights (1 x 1 up, odd sizes, row scales 1e-6 to 1e3, outliers; float32, bfloat16, float16): every
    granularity agrees with the reference, stays in [-127, 127] and within half a step of each weight, twice"""

    @PROPERTY
    @given(
        out_features=st.integers(1, 9),
        groups=st.integers(1, 5),
        group_size=st.sampled_from([1, 2, 3, 4, 8, 16]),
        granularity=st.sampled_from(["tensor", "channel", "group"]),
        dtype=st.sampled_from(DTYPES),
        spread=st.floats(0, 9),
        outliers=st.integers(0, 2),
        seed=st.integers(0, 2**16),
    )
    def agrees(out_features, groups, group_size, granularity, dtype, spread, outliers, seed):
        in_features = groups * group_size
        if dtype == torch.float16:
            spread = min(spread, 6.0)  # float16 holds 6e-5 to 6e4: wider rows would be subnormal or inf
        g = gen(seed + 1)
        row_scales = 10 ** (spread * torch.rand(out_features, generator=g, dtype=torch.float64) - spread / 2)
        w = weights(out_features, in_features, seed, dtype, row_scales, outliers)
        size = group_size if granularity == "group" else None
        where = f"{out_features} x {in_features} {name_of(dtype)}, {granularity}" + (f", group_size {size}" if size else "") + f", row scales over 1e{spread:.1f}"
        first = check_quantize(submission, reference, w, granularity, size, where)
        expect(int(first[0].long().abs().max()) <= 127, "codes stay within [-127, 127]", where)
        second = call_quantize(submission, w, granularity, size, where + ", second call")
        expect(_equal(first[0], second[0]) and _equal(first[1], second[1]), "a second call on the same weight gives other codes or scales: quantize keeps no state", where)

    agrees()
