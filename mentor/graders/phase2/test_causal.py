"""Grader: the causal mask and causal attention, where position t attends only to positions <= t."""

import numpy as np
import torch
import torch.nn.functional as F

from mentor.grading.expect import as_array, expect, expect_close, expect_finite, expect_shape, value_diff
from mentor.grading.torch_checks import expect_earlier_step_agrees

torch_sdpa = F.scaled_dot_product_attention  # bound before any learner code runs

# float64: a correct causal attention differs from PyTorch's only in summation order (~1e-16),
# while a leaking or missing mask changes outputs by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
# Outputs at positions <= t must not move at all when later tokens change: masked keys get weight
# exactly 0, so only rounding could differ, and it does not (each row is computed the same way).
SAME = 1e-12
# float16 keeps 11 significant bits: over 16 keys of size ~1 the reference's float16 result lies
# within 2e-3 of its float32 result (20 seeds), so 1e-2 accepts rounding and rejects a leak (~0.1).
HALF_ATOL = 1e-2
LOWER = "row t is query t and column j is key j: the keys a query may see, j <= t, form the lower triangle (torch.tril)"


def rand(B=2, H=2, T=8, Dh=4, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return tuple(torch.randn(B, H, T, Dh, dtype=torch.float64).to(dtype) for _ in range(3))


def mask_of(submission, T):
    mask = submission.causal_mask(T)
    expect(isinstance(mask, torch.Tensor), "causal_mask must return a torch tensor", f"got {type(mask).__name__}")
    expect_shape(mask, (T, T), f"causal_mask(T) is (T, T): one row per query, one column per key (T={T})")
    return mask


def test_your_sdpa_agrees(submission, reference):
    """the scaled_dot_product_attention this step builds on (p2.attention.sdpa) matches the reference"""
    q, k, v = rand(seed=1)
    mask = torch.rand(8, 8) < 0.5
    mask[:, 0] = True

    def yours_and_reference():
        want = reference.scaled_dot_product_attention(q, k, v, mask=mask)  # the reference runs first
        return submission.scaled_dot_product_attention(q, k, v, mask=mask), want

    expect_earlier_step_agrees(
        "scaled_dot_product_attention", "p2.attention.sdpa", yours_and_reference,
        "Causal attention applies its mask through it.", "on a (2, 2, 8, 4) input with a random mask",
    )  # fmt: skip


def test_mask_is_bool(submission, reference):
    """causal_mask returns a bool tensor (True = may attend), the kind masked_fill and ~mask expect"""
    want = reference.causal_mask(5)
    mask = mask_of(submission, 5)
    expect(
        mask.dtype == torch.bool,
        "causal_mask must return a bool tensor: True where query t may attend to key j. A float mask of 0s and "
        "1s is not a bool mask: ~mask is an error on floats, and masked_fill wants bool",
        f"dtype: got {mask.dtype}, expected {want.dtype}",
    )


def test_mask_includes_diagonal(submission, reference):
    """every position may attend to itself: the diagonal of the mask is True, and no output row is nan"""
    want = reference.causal_mask(6)
    expect(bool(want.diagonal().all()), "the reference masks the diagonal: a course bug, please report it")
    why = (
        "off by one: position t must attend to itself, so the diagonal of the mask is True (torch.tril, not "
        "tril(diagonal=-1)). Without it, position 0 has no key at all: a row of -inf, whose softmax is 0/0 = nan"
    )
    diagonal = as_array(mask_of(submission, 6).diagonal()).astype(bool)
    expect(bool(diagonal.all()), why, f"diagonal of causal_mask(6): {diagonal.astype(int)}")
    expect_finite(submission.causal_attention(*rand(seed=2)), why)


def test_mask_is_lower_triangle(submission, reference):
    """below the diagonal (the past) is True and above it (the future) is False"""
    T = 6
    want = as_array(reference.causal_mask(T)).astype(bool)
    expect(
        np.array_equal(want, np.tril(np.ones((T, T), dtype=bool))),
        "the reference mask is not tril: a course bug, please report it",
    )
    got = as_array(mask_of(submission, T)).astype(bool)
    off_diagonal = ~np.eye(T, dtype=bool)  # the diagonal is test_mask_includes_diagonal's business
    expect(
        np.array_equal(got[off_diagonal], want[off_diagonal]),
        f"{LOWER}. The upper triangle (torch.triu) would let every position see the future and hide its past",
        f"causal_mask({T}) as 0/1:\n{got.astype(int)}\nexpected:\n{want.astype(int)}",
    )


def test_future_tokens_do_not_change_the_past(submission, reference):
    """changing the tokens after position t leaves the outputs at positions <= t exactly as they were"""
    q, k, v = rand(seed=3)
    T = q.shape[-2]
    base = submission.causal_attention(q, k, v)
    expect_shape(base, q.shape, "causal attention returns (B, H, T, Dh), like its inputs")
    torch.manual_seed(4)
    for t in range(T - 1):
        noise = torch.zeros_like(q)
        noise[..., t + 1 :, :] = 10 * torch.randn_like(noise[..., t + 1 :, :])  # only the future moves
        out = submission.causal_attention(q + noise, k + noise, v + noise)
        past, was = out[..., : t + 1, :], base[..., : t + 1, :]
        # nan == nan here: a nan row is test_mask_includes_diagonal's business, not a leak
        if torch.allclose(past, was, rtol=0.0, atol=SAME, equal_nan=True):
            continue
        try:
            mask_ok = torch.equal(submission.causal_mask(T).cpu(), reference.causal_mask(T))
        except Exception:  # noqa: BLE001 - only used to word the message
            mask_ok = False
        why = (
            "the future leaks, although your causal_mask is right: the masked scores still count. Fill them with "
            "-inf before the softmax (masked_fill(~mask, float('-inf'))); a score of 0 still gets weight e^0 = 1"
            if mask_ok
            else f"the future leaks: changing tokens after position {t} changed the outputs up to {t}. {LOWER}"
        )
        expect(
            False,
            why,
            f"outputs at positions 0..{t} after changing positions {t + 1}..{T - 1}:\n"
            + value_diff(as_array(past), as_array(was)),
        )


def test_matches_torch_is_causal(submission, reference):
    """causal attention equals F.scaled_dot_product_attention(q, k, v, is_causal=True)"""
    q, k, v = rand(seed=5, T=7, Dh=8)
    want = torch_sdpa(q, k, v, is_causal=True)
    expect_close(
        reference.causal_attention(q, k, v),
        want,
        "the reference disagrees with PyTorch: a course bug, please report it",
    )
    expect_close(
        submission.causal_attention(q, k, v), want,
        "your causal attention differs from F.scaled_dot_product_attention(q, k, v, is_causal=True): softmax of "
        "q kᵀ / sqrt(d_k) with the scores of later keys at -inf, then @ v",
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip
    if torch.cuda.is_available():  # the mask must be made on q's device
        q, k, v = (t.float().cuda() for t in (q, k, v))
        # float32 on a GPU: about 1e-6 apart on values of size 1
        expect_close(
            submission.causal_attention(q, k, v), torch_sdpa(q, k, v, is_causal=True).cpu(),
            "on the GPU your causal attention differs from PyTorch's: make the mask on q.device "
            "(causal_mask(T, device=q.device))",
            rtol=1e-4, atol=1e-5,
        )  # fmt: skip


def test_the_mask_is_made_on_the_inputs_device(submission, reference):
    """causal_mask(T, device=...) makes the mask there, and causal attention makes it on q's device"""
    # The meta device stands in for a GPU: tensors there have a device and a shape but no data, so
    # a mask left on the CPU fails against meta scores exactly as it would against CUDA ones.
    mask = submission.causal_mask(4, device="meta")
    expect(
        isinstance(mask, torch.Tensor) and mask.device.type == "meta",
        "causal_mask(T, device=d) must build the mask on d: pass device= to the tensor you create "
        "(on a GPU, a CPU mask meets CUDA scores and fails)",
        f"causal_mask(4, device='meta') is on {getattr(mask, 'device', type(mask).__name__)}",
    )
    q, k, v = (t.to("meta") for t in rand(T=5))
    try:
        out = submission.causal_attention(q, k, v)
    except RuntimeError as e:
        expect(
            False,
            "causal_attention must make its mask on q.device (causal_mask(T, device=q.device)): on a GPU a mask "
            "made on the CPU meets CUDA scores and fails",
            f"on the meta device your causal_attention raised: {str(e).splitlines()[0]}",
        )
    expect(out.device.type == "meta", "causal attention returns its output on the inputs' device", f"got {out.device}")


def test_float16(submission, reference):
    """causal attention works in float16 as it does in float32: the mask value fits, the dtype stays"""
    q, k, v = rand(T=16, Dh=16, seed=6, dtype=torch.float16)
    want = reference.causal_attention(q.float(), k.float(), v.float())
    expect_close(
        reference.causal_attention(q, k, v).float(),
        want,
        "the reference fails in float16: a course bug, please report it",
        rtol=0.0,
        atol=HALF_ATOL,
    )
    overflow = (
        "in float16 the mask value overflows: the largest finite float16 is 65504, so -1e9 (or float32's most "
        "negative number) cannot be stored, and masked_fill refuses it. Fill with float('-inf'), which every "
        "float dtype has, or with torch.finfo(scores.dtype).min"
    )
    promoted = (
        "float16 in, float16 out: a mask made as a float32 tensor (e.g. (~mask) * -1e9) promotes the scores to "
        "float32, and the next matmul with float16 v fails or the output changes dtype. Keep the scores' dtype: "
        "masked_fill(~mask, float('-inf'))"
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])  # float16 is the GPU's everyday dtype
    for device in devices:
        # Your own float32 result on the same numbers is the yardstick: this test is about float16 alone,
        # whatever else may be wrong (the other tests say that).
        yours32 = submission.causal_attention(*(t.float().to(device) for t in (q, k, v)))
        try:
            got = submission.causal_attention(q.to(device), k.to(device), v.to(device))
        except NotImplementedError:
            raise
        except RuntimeError as e:  # masked_fill's overflow check, or a float32 tensor meeting a float16 one
            expect(
                False,
                overflow if "overflow" in str(e) else promoted,
                f"on {device}, your code raised RuntimeError: {e}",
            )
        expect(isinstance(got, torch.Tensor), "causal_attention must return a tensor", f"got {type(got).__name__}")
        expect(got.dtype == torch.float16, promoted, f"dtype on {device}: got {got.dtype}, expected torch.float16")
        got, yours32 = as_array(got.float()), as_array(yours32)
        fine = np.isfinite(yours32)  # rows your float32 version already gets wrong are not float16's fault
        expect(
            bool(np.isfinite(got[fine]).all()),
            overflow,
            f"on {device}: {int((~np.isfinite(got[fine])).sum())} values are inf or nan in float16, finite in float32",
        )
        # float16's rounding, as for the reference above
        expect(
            np.allclose(got[fine], yours32[fine], rtol=0.0, atol=HALF_ATOL),
            f"{overflow} (on {device} your float16 result is further from your float32 one than rounding explains)",
            f"largest difference: {np.abs(got[fine] - yours32[fine]).max():.3g}, allowed {HALF_ATOL}",
        )
