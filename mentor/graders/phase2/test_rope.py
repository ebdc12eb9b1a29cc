"""Grader: rotary position embeddings, checked against complex rotations and by their relative-position property."""

import numpy as np
import torch

from mentor.grading.expect import as_array, expect, expect_close, expect_equal

_allclose = np.allclose  # bound before learner code runs

# float32 inputs with |x| up to ~4 and positions up to ~150: the angle m·θ_i carries a rounding
# error of about 150 · 6e-8 ≈ 1e-5 rad, so outputs differ from float64 by up to ~5e-5 whichever
# float32 formulation is used; atol 2e-4 admits all of them, while a wrong angle, pair or sign is
# off by O(0.1) or more.
ROT = dict(rtol=0, atol=2e-4)
# Scores are sums of Dh = 16 such products: their rounding grows to ~1e-4 at most.
SCORES = dict(rtol=1e-4, atol=1e-3)
FORMULA = (
    "pair (x[2i], x[2i+1]) at position m becomes (x[2i]·cos mθ_i - x[2i+1]·sin mθ_i, "
    "x[2i]·sin mθ_i + x[2i+1]·cos mθ_i), with θ_i = base^(-2i/Dh)"
)


def rope_complex(x, positions, base=10000.0, sign=1.0):
    """An independent RoPE in float64: pair i as the complex number x[2i] + i·x[2i+1], times e^(i·m·θ_i)."""
    Dh = x.shape[-1]
    theta = base ** (-torch.arange(0, Dh, 2, dtype=torch.float64) / Dh)  # (Dh/2,)
    angles = sign * positions.to(torch.float64)[:, None] * theta  # (T, Dh/2)
    z = torch.view_as_complex(x.to(torch.float64).reshape(*x.shape[:-1], Dh // 2, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).flatten(-2)  # (..., Dh)


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def rope(fn, x, positions, base=10000.0):
    """fn(x, positions) on copies, as a float64 tensor checked to have x's shape."""
    out = fn(x.clone(), positions.clone(), base=base)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().to(torch.float64)
    else:
        out = torch.from_numpy(np.array(as_array(out, "apply_rope"), dtype=np.float64))
    expect_equal(
        tuple(out.shape),
        tuple(x.shape),
        "apply_rope must return the shape of x, (B, H, T, Dh): it turns every pair within its own two "
        "dims and neither adds nor removes an axis",
        f"apply_rope(x of shape {tuple(x.shape)}) has shape {tuple(out.shape)}",
    )
    return out


def test_output_shape_and_dtype(submission, reference):
    """apply_rope returns a tensor of x's shape (B, H, T, Dh) and dtype"""
    x, pos = randn(2, 3, 5, 8), torch.arange(5)
    want = reference.apply_rope(x.clone(), pos.clone())
    got = submission.apply_rope(x.clone(), pos.clone())
    rope(lambda *a, **k: got, x, pos)
    expect(
        isinstance(got, torch.Tensor) and got.dtype == want.dtype,
        "return a tensor of x's dtype: attention multiplies the result with other float32 (or bfloat16) tensors",
        f"got {type(got).__name__} of dtype {getattr(got, 'dtype', None)}, expected {want.dtype}",
    )


def test_input_left_unchanged(submission, reference):
    """apply_rope does not modify x in place: the caller may still need the unrotated q or k"""
    x, pos = randn(1, 2, 6, 8, seed=1), torch.arange(6)
    reference.apply_rope(x.clone(), pos)
    before = x.clone()
    submission.apply_rope(x, pos.clone())
    expect_close(
        x, before,
        "apply_rope changed its input x in place: compute the rotated pairs into a new tensor (writing "
        "x[..., 0::2] = ... overwrites the values that the second formula of the pair still needs)",
        rtol=0, atol=0,
    )  # fmt: skip


def test_matches_the_rotary_formula(submission, reference):
    """apply_rope equals an independent complex-number rotation of every pair, for random q"""
    x, pos = randn(2, 3, 6, 16, seed=2), torch.arange(6)
    independent = rope_complex(x, pos)
    want = rope(reference.apply_rope, x, pos)
    expect_close(want, independent, "the reference disagrees with the complex rotation: a course problem", **ROT)
    got = rope(submission.apply_rope, x, pos)
    expect(
        not _allclose(got.numpy(), rope_complex(x, pos, sign=-1.0).numpy(), **ROT),
        "you rotate by -m·θ_i (clockwise): sin enters with a minus sign in the FIRST member of the pair, "
        "out[2i] = x[2i]·cos - x[2i+1]·sin and out[2i+1] = x[2i]·sin + x[2i+1]·cos",
    )  # fmt: skip
    expect_close(got, want, f"apply_rope is not the rotary formula: {FORMULA}", **ROT)
    if torch.cuda.is_available():
        on_gpu = submission.apply_rope(x.cuda(), pos.cuda())
        expect_close(on_gpu, want, f"apply_rope is wrong on the GPU (build the angles on x.device): {FORMULA}", **ROT)


PAIRING = (
    "RoPE here rotates neighbouring dims: pair i is (x[2i], x[2i+1]), the RoFormer convention. "
    "Pairing x[i] with x[i + Dh/2] (the 'rotate_half' layout) is a different convention, and "
    "mixing the two turns dims by angles meant for other pairs"
)


def expect_pairs_stay_together(x, out, want):
    """Every input vector along dim 2i or 2i+1 must come out within dims (2i, 2i+1)."""
    Dh = x.shape[-1]
    for h in range(x.shape[1]):
        pair = int(x[0, h, 0].abs().argmax()) // 2
        outside = [j for j in range(Dh) if j // 2 != pair and abs(float(out[0, h, 0, j])) > 1e-4]
        expect(
            not outside, PAIRING,
            f"the vector {np.round(x[0, h, 0].numpy(), 4).tolist()} leaked into dims {outside}: "
            f"{np.round(out[0, h, 0].numpy(), 4).tolist()}\nexpected {np.round(want[0, h, 0].numpy(), 4).tolist()}",
        )  # fmt: skip


def test_pairs_are_neighbouring_dims(submission, reference):
    """pair i is dims (2i, 2i+1): a vector along dim 2i rotates within dims 2i and 2i+1 only"""
    Dh = 8
    x = torch.eye(Dh)[0::2].reshape(1, Dh // 2, 1, Dh)  # head h holds the unit vector along dim 2h
    pos = torch.tensor([3])
    want = rope(reference.apply_rope, x, pos)
    expect_pairs_stay_together(x, rope(submission.apply_rope, x, pos), want)


def pair_angles(out):
    """The angle of every pair (out[2i], out[2i+1]) of a (Dh,) vector."""
    return np.arctan2(out[1::2].numpy(), out[0::2].numpy())


def test_frequencies(submission, reference):
    """pair i turns by θ_i = base^(-2i/Dh) per position step, for the base given"""
    Dh = 8
    x = torch.eye(Dh)[0::2].reshape(1, Dh // 2, 1, Dh)  # head h: pair h points along its first dim
    steps = torch.tensor([1, 2])
    for base in (10000.0, 500.0):
        want = base ** (-np.arange(0, Dh, 2) / Dh)
        ref = rope(reference.apply_rope, x.expand(1, Dh // 2, 2, Dh), steps, base)
        ref_theta = np.array([pair_angles(ref[0, h, 1])[h] - pair_angles(ref[0, h, 0])[h] for h in range(Dh // 2)])
        expect_close(ref_theta, want, "reference frequencies are wrong: a course problem", **ROT)
        out = rope(submission.apply_rope, x.expand(1, Dh // 2, 2, Dh).contiguous(), steps, base)
        expect_pairs_stay_together(x, out[:, :, :1], ref[:, :, :1])
        # the angle gained from position 1 to position 2, whatever the direction or the first position
        gained = np.array([pair_angles(out[0, h, 1])[h] - pair_angles(out[0, h, 0])[h] for h in range(Dh // 2)])
        theta = np.abs((gained + np.pi) % (2 * np.pi) - np.pi)  # wrapped into [0, π]
        right = _allclose(theta, want, **ROT)
        diff = (
            f"θ_i measured between positions 1 and 2, base={base:g}: {np.round(theta, 5).tolist()}\n"
            f"expected: {np.round(want, 5).tolist()}"
        )
        if base != 10000.0:
            expect(right, "apply_rope ignores the base argument: θ_i = base^(-2i/Dh) with the base given", diff)
        expect(
            right,
            "pair i must turn by θ_i = base^(-2i/Dh) radians per position: the exponent is 2i/Dh, with i "
            "counting pairs, not i/Dh; θ_0 = 1 and the last pair turns slowest",
            diff,
        )  # fmt: skip


def test_position_zero_is_not_rotated(submission, reference):
    """positions are 0-based: the token at position 0 comes out unchanged"""
    x, pos = randn(2, 2, 4, 8, seed=3), torch.arange(4)
    want = rope(reference.apply_rope, x, pos)
    expect_close(want[:, :, 0], x[:, :, 0], "reference rotates position 0: a course problem", **ROT)
    got = rope(submission.apply_rope, x, pos)
    expect_close(
        got[:, :, 0], x[:, :, 0],
        "the token at position 0 must come out unchanged (its angles 0·θ_i are all 0): positions are "
        "0-based, and adding 1 turns every token one step too far",
        **ROT,
    )  # fmt: skip


def test_uses_the_given_positions(submission, reference):
    """row t is rotated by positions[t], e.g. 100..105 during generation, in any order"""
    x = randn(1, 2, 6, 8, seed=4)
    for pos in (torch.arange(100, 106), torch.tensor([3, 0, 9, 9, 1, 2])):
        expect_close(rope(reference.apply_rope, x, pos), rope_complex(x, pos), "reference is wrong: a course problem", **ROT)
        got = rope(submission.apply_rope, x, pos)
        for t in range(len(pos)):
            # the same row alone, at its own position: a function of positions[t] only must agree
            alone = rope(submission.apply_rope, x[:, :, t : t + 1], pos[t : t + 1])
            expect_close(
                got[:, :, t], alone[:, :, 0],
                f"row t must be rotated by the positions you are given, positions[t] (here {pos.tolist()}), "
                "not by its index t: with a cache, new tokens sit at positions after the cached ones",
                **ROT,
            )  # fmt: skip


def test_heads_share_the_rotation(submission, reference):
    """every head and batch row at position t gets the same rotation: the positions run along dim 2"""
    B, H, T, Dh = 2, 4, 4, 8  # H == T, so angles broadcast along the wrong axis still fit
    x = randn(1, 1, T, Dh, seed=5).expand(B, H, T, Dh).contiguous()  # every (b, h) holds the same q's
    pos = torch.arange(T)
    want = rope(reference.apply_rope, x, pos)
    expect_close(want, want[:1, :1].expand_as(want), "reference treats heads differently: a course problem", **ROT)
    got = rope(submission.apply_rope, x, pos)
    expect_close(
        got, got[:1, :1].expand_as(got),
        "every head of x (B, H, T, Dh) at position t must get the same rotation: the positions index the "
        "T axis (dim 2), so broadcast the (T, Dh/2) angles over B and H. A (1, T, 1, Dh/2) shape is for "
        "a (B, T, H, Dh) layout: here it rotates by the head's index",
        **ROT,
    )  # fmt: skip


def test_norm_preserved(submission, reference):
    """RoPE is a rotation: every (B, H, T) vector keeps its length"""
    x, pos = randn(2, 2, 7, 16, seed=6), torch.arange(7) * 5
    ref_norm = rope(reference.apply_rope, x, pos).norm(dim=-1)
    expect_close(ref_norm, x.double().norm(dim=-1), "reference changes norms: a course problem", **ROT)
    got = rope(submission.apply_rope, x, pos)
    expect_close(
        got.norm(dim=-1), x.double().norm(dim=-1),
        "apply_rope changed the length of a vector, so it is not a rotation: each pair must be turned by "
        "one angle, cos on the diagonal and ±sin off it, with opposite signs for the two members",
        **ROT,
    )  # fmt: skip


def test_scores_depend_only_on_offset(submission, reference):
    """q·k after RoPE depends on the positions only through m - n: shifting both leaves every score unchanged"""
    q, k = randn(1, 2, 8, 16, seed=7), randn(1, 2, 8, 16, seed=8)
    pos = torch.arange(8)

    def scores(fn, shift, q, k):
        return rope(fn, q, pos + shift) @ rope(fn, k, pos + shift).transpose(-1, -2)  # (1, 2, T, T)

    ref = scores(reference.apply_rope, 0, q, k)
    ref_shifted = scores(reference.apply_rope, 50, q, k)
    expect_close(ref, ref_shifted, "reference breaks the relative property: a course problem", **SCORES)
    why = (
        "dot(rope(q, m), rope(k, n)) must depend on the positions only through m - n: rotating q by mθ and "
        "k by nθ leaves the angle between them turned by (m - n)θ. Add nothing to q or k, rotate them"
    )
    shifted, base_scores = scores(submission.apply_rope, 50, q, k), scores(submission.apply_rope, 0, q, k)
    expect_close(shifted, base_scores, why + " (shifting every position by 50 changed the scores)", **SCORES)
    # one q and one k repeated at every position: then score[m, n] is a function of m - n alone
    q1, k1 = q[:, :, :1].expand_as(q).contiguous(), k[:, :, :1].expand_as(k).contiguous()
    s = scores(submission.apply_rope, 0, q1, k1)
    expect_close(
        s[..., 1:, 1:], s[..., :-1, :-1], why + " (the same q and k at (m, n) and (m+1, n+1) scored differently)", **SCORES
    )


def test_float16_angles_in_float32(submission, reference):
    """float16 x at positions near 2000 is rotated as accurately as its float32 copy: angles in float32"""
    x, pos = randn(1, 2, 8, 32, seed=10, dtype=torch.float16), torch.arange(2000, 2008)
    # Output rounded to float16 (11 significant bits): about 3 · 2^-12 relative error. Angles m·θ_i
    # computed in float16 near 2000 are only good to 1 rad (float16's spacing there), errors of O(|x|).
    TOL = dict(rtol=0.01, atol=0.02)
    got = submission.apply_rope(x.clone(), pos.clone())
    expect(
        isinstance(got, torch.Tensor) and got.dtype == torch.float16,
        "return a tensor of x's dtype, here float16: cast the cos and sin tables to x.dtype",
        f"got {type(got).__name__} of dtype {getattr(got, 'dtype', None)}",
    )
    expect_close(
        rope(lambda *a, **k: got, x, pos), rope(submission.apply_rope, x.to(torch.float32), pos),
        "float16 has 11 significant bits, so near position 2000 m·θ_i in float16 is off by up to a radian: compute "
        "positions × θ_i, cos and sin in float32 (at least), and cast only the results to x.dtype",
        **TOL,
    )  # fmt: skip


def test_works_on_the_device_of_x(submission, reference):
    """apply_rope computes its tables on x's device, whatever device the positions come from"""
    # The meta device stands in for a GPU: shapes and devices without data, so a table made on the CPU
    # meets x there exactly as it would meet CUDA tensors.
    submission.apply_rope(randn(1, 2, 4, 8), torch.arange(4))  # on the CPU first: an unfinished stub says so here
    x, pos = randn(1, 2, 4, 8).to("meta"), torch.arange(4)
    try:
        got = submission.apply_rope(x, pos)
    except RuntimeError as e:
        expect(
            False,
            "build the frequencies on x.device and move the positions there (positions.to(x.device)): on a GPU, "
            "tables made on the CPU meet CUDA tensors and fail",
            f"x on the meta device, positions on the CPU: {type(e).__name__}: {str(e).splitlines()[0]}",
        )
    expect(got.device == x.device, "apply_rope returns its result on x's device", f"got {got.device}")


def test_bfloat16_angles_in_float32(submission, reference):
    """bfloat16 x at positions near 2000 is rotated as accurately as its float32 copy: angles in float32"""
    x, pos = randn(1, 2, 8, 32, seed=9, dtype=torch.bfloat16), torch.arange(2000, 2008)
    # The output is rounded to bfloat16 (8 significant bits): the products and the sum add up to
    # about 3 · 2^-9 ≈ 0.006 relative error, at most ~0.03 for |x| ≤ 4. Angles computed in bfloat16
    # are off by up to 4 rad at position 2000 (its neighbours there are 8 apart), errors of O(|x|).
    TOL = dict(rtol=0.02, atol=0.05)
    want = rope(reference.apply_rope, x, pos)
    expect_close(want, rope_complex(x, pos), "reference loses precision in bfloat16: a course problem", **TOL)
    got = submission.apply_rope(x.clone(), pos.clone())
    expect(
        isinstance(got, torch.Tensor) and got.dtype == torch.bfloat16,
        "return a tensor of x's dtype, here bfloat16: cast the cos and sin tables to x.dtype",
        f"got {type(got).__name__} of dtype {getattr(got, 'dtype', None)}",
    )
    same_in_float32 = rope(submission.apply_rope, x.to(torch.float32), pos)  # your formula, without bfloat16
    expect_close(
        rope(lambda *a, **k: got, x, pos), same_in_float32,
        "bfloat16 keeps 8 significant bits, so in bfloat16 position 2001 reads as 2000 and m·θ_i is off by "
        "radians: compute positions × θ_i, cos and sin in float32, and cast only the results to x.dtype",
        **TOL,
    )  # fmt: skip
