"""Grader: sample_next, from a row of logits to one token, against the reference.

Every draw is compared with the reference's draw from a generator in the same state: with the same
filtered distribution and one torch.multinomial call on it, the two agree token for token. Where they
do not, the grader counts the learner's draws over thousands of identical rows, finds the tokens they
can reach and their frequencies, and names the mistake whose distribution reproduces them (temperature
multiplied, top-k off by one, the crossing token of top-p dropped, top-p before the temperature, ...),
computed in float64 from the same logits.
"""

import math
import time

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal, expect_self_check

# Bound before any learner code runs: the expected values never go through a patched name.
_multinomial, _softmax, _equal, _perf_counter = torch.multinomial, torch.softmax, torch.equal, time.perf_counter
INF = float("inf")

# A correct implementation and the reference feed torch.multinomial the same probabilities up to float32
# rounding (float32 or float64, normalised or not, one call or one per row: measured, the same draws).
# A draw flips only when its uniform falls within ~1e-7 of a bin edge, so a flip or two in 20,000 draws is
# rounding; every mistake below moves a probability by 1e-3 or more and flips tens or thousands.
def allowed_flips(n: int) -> int:
    return 1 + n // 20000


N_DRAWS = 20000  # draws of one distribution: the least likely kept token below (p ~ 0.002) is drawn ~40 times

# -- messages ---------------------------------------------------------------------------------------
GREEDY = (
    "temperature 0 is greedy decoding: return logits.argmax(dim=-1), the most probable token of each row "
    "exactly (the lowest index among equal maxima, as torch.argmax gives)"
)
GREEDY_DRAWS = (
    "temperature 0 takes no random number: return the argmax without calling torch.multinomial (or dividing by a "
    "tiny temperature), so that the generator's state is left where it was"
)
TEMP_MULTIPLIED = (
    "the logits are multiplied by the temperature: divide them, softmax(logits / temperature), so that a "
    "temperature below 1 sharpens the distribution and above 1 flattens it"
)
TEMP_IGNORED = (
    "the temperature has no effect: divide the logits by it before the softmax (dividing the probabilities by it "
    "changes nothing once they are renormalised)"
)
TOPK_EXTRA = "top-k keeps one token too many: keep the k largest logits (and any tied with the k-th), no more"
TOPK_SHORT = (
    "top-k keeps one token too few: the k-th largest logit itself is kept; mask the logits strictly below it "
    "(x < kth), not those equal to it"
)
TOPK_TIES = (
    "top-k drops tokens tied with the k-th largest logit: every token whose logit equals the k-th largest is "
    "kept (mask x < kth); torch.topk's indices pick one of the tied tokens arbitrarily"
)
TOPK_IGNORED = "top_k is ignored: only the top_k largest logits may be drawn; mask the others to -inf"
TOPK_TOO_LARGE = "a top_k of V or more keeps every token: torch.topk(x, k) fails for k > V, so use min(top_k, V) or skip the filter"
TOPP_CROSSING_DROPPED = (
    "top-p drops the token that crosses top_p: keep the most probable tokens until their cumulative probability "
    "reaches top_p, the one that crosses it included (drop a token when the mass ranked above it is already "
    ">= top_p)"
)
TOPP_EXTRA = (
    "top-p keeps one token too many: after the token whose cumulative probability reaches top_p, stop; the next "
    "token's mass ranked above it is already >= top_p"
)
TOPP_EMPTY = (
    "top-p removed every token of a row (the probabilities became nan): the most probable token is always kept, "
    "however small top_p is"
)
TOPP_ASCENDING = "top-p starts from the least probable tokens: sort the probabilities in descending order, most probable first"
TOPP_UNSCATTERED = (
    "the top-p mask is computed in sorted order but applied in vocabulary order: map it back through the sort's "
    "indices (mask.scatter(-1, order, mask)) before masking the logits"
)
TOPP_BEFORE_TEMPERATURE = (
    "top-p is chosen from the distribution before the temperature: divide by the temperature first, then "
    "choose the top-p set from the tempered probabilities"
)
TOPP_BEFORE_TOPK = (
    "top-p is chosen before top-k (or from the distribution before top-k): apply top-k first, then top-p on the "
    "renormalised distribution that top-k leaves"
)
TOPP_IGNORED = "top_p is ignored: only the smallest set of most probable tokens reaching top_p may be drawn"
OVERFLOW = (
    "large logits overflow: exp(1e4) is inf in float32 and inf/inf is nan. Use torch.softmax (which subtracts "
    "the row maximum) or subtract the maximum yourself before exp"
)
HALF = (
    "half-precision logits must be widened before the softmax: compute in float32 (float64 stays float64); "
    "a softmax in bfloat16 or float16 is off by up to 1% per token"
)
DRAWS_DIFFER = (
    "your draws reach the right tokens at the right rates but differ from the reference's with the same "
    "generator: draw with torch.multinomial(probs, num_samples=1, generator=generator) on the (B, V) "
    "probabilities in vocabulary order (not on sorted probabilities, and no other random numbers taken)"
)
GENERATOR_IGNORED = (
    "the generator is not used: pass generator=generator to torch.multinomial, so that a seeded generator "
    "reproduces the draw (your call drew from torch's global random state)"
)
INPUT_CHANGED = (
    "sample_next changed its input in place (logits /= temperature, masked_fill_, ...): compute on a new tensor; "
    "the caller's logits are read, never written"
)

# -- the distributions: right and wrong ------------------------------------------------------------


def filtered(logits, T, k=None, p=None, *, temp="divide", k_rule="ties", p_rule="crossing", p_sort="desc", p_scatter=True, p_at=None, p_first=False):  # fmt: skip
    """The probabilities (B, V) float64 that sample_next draws from, or one of the classic mistakes.

    temp: divide | multiply | none; k_rule: ties | exact | extra | short | none; p_rule: crossing |
    dropped | extra | none; p_sort: desc | asc; p_scatter: map the sorted mask back to the vocabulary;
    p_at: the temperature top-p is chosen at (None: T); p_first: top-p before top-k.
    """
    x = logits.double()
    x = {"divide": x / T, "multiply": x * T, "none": x}[temp]
    V = x.shape[-1]

    def top_k(x):
        if k is None or k_rule == "none" or k >= V:
            return x
        kk = {"ties": k, "exact": k, "extra": k + 1, "short": k - 1}[k_rule]
        if kk >= V:
            return x
        if kk <= 0:
            return torch.full_like(x, -INF)
        if k_rule == "exact":
            keep = torch.zeros_like(x, dtype=torch.bool).scatter(-1, x.topk(kk, dim=-1).indices, True)
            return x.masked_fill(~keep, -INF)
        return x.masked_fill(x < x.topk(kk, dim=-1).values[:, -1:], -INF)

    def top_p(x):
        if p is None or p >= 1.0 or p_rule == "none":
            return x
        base = x if p_at is None else logits.double() / p_at
        probs, order = _softmax(base, dim=-1).sort(dim=-1, descending=p_sort == "desc")
        before = probs.cumsum(dim=-1) - probs
        drop = before >= p
        drop[:, 0] = False
        if p_rule == "dropped":  # the crossing token goes too
            drop = before + probs > p
        elif p_rule == "extra":  # one token past the crossing one stays
            drop = torch.cat([torch.zeros_like(drop[:, :1]), drop[:, :-1]], dim=-1)
        mask = drop.scatter(-1, order, drop) if p_scatter else drop
        return x.masked_fill(mask, -INF)

    x = top_k(top_p(x)) if p_first else top_p(top_k(x))
    return _softmax(x, dim=-1)


def mistakes(logits, T, k, p):
    """[(probabilities, why)]: the classic mistakes, for the configuration they apply to."""
    out = []
    if p is not None:  # the order mistakes first: their sets can also look like one token more or less
        if T != 1:
            out.append((filtered(logits, T, k, p, p_at=1.0), TOPP_BEFORE_TEMPERATURE))
        if k is not None:
            out.append((filtered(logits, T, k, p, p_first=True), TOPP_BEFORE_TOPK))
        out += [
            (filtered(logits, T, k, p, p_rule="dropped"), TOPP_CROSSING_DROPPED),
            (filtered(logits, T, k, p, p_rule="extra"), TOPP_EXTRA),
            (filtered(logits, T, k, p, p_sort="asc"), TOPP_ASCENDING),
            (filtered(logits, T, k, p, p_scatter=False), TOPP_UNSCATTERED),
            (filtered(logits, T, k, p, p_rule="none"), TOPP_IGNORED),
        ]
    if T != 1:
        out += [(filtered(logits, T, k, p, temp="multiply"), TEMP_MULTIPLIED), (filtered(logits, T, k, p, temp="none"), TEMP_IGNORED)]
    if k is not None:
        out += [
            (filtered(logits, T, k, p, k_rule="extra"), TOPK_EXTRA),
            (filtered(logits, T, k, p, k_rule="short"), TOPK_SHORT),
            (filtered(logits, T, k, p, k_rule="exact"), TOPK_TIES),
            (filtered(logits, T, k, p, k_rule="none"), TOPK_IGNORED),
        ]
    return out


def chi_square_fits(counts, probs) -> bool:
    """Counts of n draws agree with `probs`: nothing drawn outside its support, and Pearson's statistic within
    a bound a correct sampler exceeds with probability below ~1e-6 (the draws are seeded: the same every run)."""
    n = int(counts.sum())
    support = probs > 0
    if bool((counts[~support] > 0).any()):
        return False
    expected = n * probs[support]
    stat = float(((counts[support] - expected) ** 2 / expected).sum())
    df = max(int(support.sum()) - 1, 1)
    return stat <= df + 8 * math.sqrt(2 * df) + 16


def diagnose(draws, logits_row, T, k, p):
    """The message of the mistake whose distribution the learner's draws (of one repeated row) fit, or None."""
    V = logits_row.shape[-1]
    counts = torch.bincount(draws.long().clamp(0, V - 1), minlength=V).double()
    for probs, why in mistakes(logits_row[None], T, k, p):
        right = filtered(logits_row[None], T, k, p)[0]
        if not _equal(probs[0] > 0, right > 0) or (probs[0] - right).abs().max() > 0.02:
            if chi_square_fits(counts, probs[0]):
                return why
    return None


# -- calling the learner ---------------------------------------------------------------------------


def gen(seed):
    return torch.Generator().manual_seed(seed)


def settings_text(T, k, p):
    return f"temperature={T}, top_k={k}, top_p={p}"


def call_sample(submission, logits, T, k, p, generator, where):
    """The learner's sample_next on a copy of `logits`: (B,) int64 ids in range back; a nan crash named."""
    x = logits.clone()
    try:
        got = submission.sample_next(x, temperature=T, top_k=k, top_p=p, generator=generator)
    except NotImplementedError:
        raise
    except RuntimeError as e:
        text = str(e)
        if "inf, nan" in text or "nan" in text.lower():
            raise Misconception(_nan_reason(logits, k, p), f"{where}: RuntimeError: {text}") from None
        if "selected index k out of range" in text or ("topk" in text.lower() and "range" in text):
            raise Misconception(TOPK_TOO_LARGE, f"{where}: RuntimeError: {text}") from None
        raise
    expect(_equal(x, logits), INPUT_CHANGED, f"{where}: the logits differ after the call")
    B, V = logits.shape
    expect(got is not None, "sample_next returned None: did you forget `return`?")
    expect(isinstance(got, torch.Tensor), "sample_next returns a tensor of token ids", f"{where}: got {type(got).__name__}")
    if got.shape == (B, 1):
        raise Misconception(
            "sample_next returns one id per row, shape (B,): squeeze the (B, 1) that torch.multinomial gives",
            f"{where}: shape {tuple(got.shape)}",
        )
    expect(got.shape == (B,), "sample_next returns one id per row, a (B,) tensor", f"{where}: shape {tuple(got.shape)}, B = {B}")
    expect(got.dtype == torch.int64, "sample_next returns token ids as int64 (torch.long)", f"{where}: dtype {got.dtype}")
    expect(bool(((got >= 0) & (got < V)).all()), "sample_next returns ids between 0 and V - 1", f"{where}: {got[:8].tolist()}")
    return got


def _nan_reason(logits, k, p):
    if float(logits.double().abs().max()) > 100:
        return OVERFLOW
    if p is not None:
        return TOPP_EMPTY
    return "the probabilities became nan or inf: check the softmax and the masks (at least one token must stay finite)"


def expect_draws(submission, reference, logits, T, k, p, where, seed, rows_repeat=False):
    """Draws from a generator seeded `seed` equal the reference's; otherwise say what the draws show."""
    want = reference.sample_next(logits.clone(), temperature=T, top_k=k, top_p=p, generator=gen(seed))
    g = gen(seed)
    global_before = torch.get_rng_state()
    got = call_sample(submission, logits, T, k, p, g, where)
    flips = int((got != want).sum())
    if flips > allowed_flips(len(want)):
        moved_global = not _equal(torch.get_rng_state(), global_before)
        untouched = _equal(g.get_state(), gen(seed).get_state())
        if moved_global and untouched:
            raise Misconception(GENERATOR_IGNORED, f"{where}: your generator's state did not move")
        why = None
        if rows_repeat:
            why = diagnose(got, logits[0], T, k, p)
            V = logits.shape[-1]
            counts = torch.bincount(got, minlength=V).double()
            right = filtered(logits[:1], T, k, p)[0]
            if why is None and chi_square_fits(counts, right):
                why = DRAWS_DIFFER
            if why is None:
                reached = set(torch.nonzero(counts).flatten().tolist())
                kept = set(torch.nonzero(right).flatten().tolist())
                why = (
                    f"the draws do not follow the filtered distribution ({where}): they reach {len(reached)} tokens, "
                    f"the set to draw from has {len(kept)}; "
                    + ("tokens outside it were drawn" if reached - kept else "tokens of it were never drawn" if kept - reached else "the frequencies are off")
                )
        raise Misconception(
            why or f"the draws differ from the reference's with the same generator ({where})",
            f"{where}: {flips} of {len(want)} draws differ; first ids: yours {got[:8].tolist()}, reference {want[:8].tolist()}",
        )
    V = logits.shape[-1]
    # sealed: how often each token was drawn, the reference's counts within the rounding flips allowed
    expect_close(
        torch.bincount(got, minlength=V), torch.bincount(want, minlength=V),
        f"the draws differ from the reference's with the same generator ({where})", rtol=0, atol=allowed_flips(len(want)),
    )  # fmt: skip
    return got, want


# -- inputs ----------------------------------------------------------------------------------------

# Nine tokens with probabilities set by hand, in a shuffled vocabulary order (so a mask applied in sorted
# order shows). Cumulative: .30 .50 .65 .77 .85 .91 .95 .98 1.00: no top-p tested below lies within
# 0.005 of one of them, at any temperature tested (checked by test_premises).
DESIGNED = torch.tensor([0.30, 0.20, 0.15, 0.12, 0.08, 0.06, 0.04, 0.03, 0.02], dtype=torch.float64)
ORDER = [4, 0, 7, 2, 8, 1, 5, 3, 6]  # the vocabulary index of the token ranked r


def designed_logits(n=N_DRAWS, dtype=torch.float32):
    row = torch.empty(9, dtype=torch.float64)
    row[ORDER] = DESIGNED.log() + 1.7  # softmax ignores the offset
    return row.to(dtype).expand(n, 9).contiguous()


def random_logits(B, V, seed, scale=3.0, dtype=torch.float32):
    """(B, V) logits with a different scale per row, from 0.3x to 3x `scale`."""
    g = gen(seed)
    rows = scale * torch.randn(B, V, generator=g, dtype=torch.float64)
    rows *= torch.logspace(-0.5, 0.5, B, dtype=torch.float64)[torch.randperm(B, generator=g)][:, None]
    return rows.to(dtype)


def margin_of(logits, T, k, p) -> float:
    """How far top_p lies from every cumulative mass the set could be cut at (inf without top-p)."""
    if p is None or p >= 1.0:
        return INF
    x = filtered(logits, T, k, None)
    probs = x.sort(dim=-1, descending=True).values
    before = probs.cumsum(dim=-1) - probs
    return float((before - p).abs().min())


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: the fastest setting for these sizes, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- tests -----------------------------------------------------------------------------------------


TEMPERATURES = (0.5, 1.0, 2.0)
TOP_K = (1, 5, 9, 12)  # 9 = V, 12 > V
TOP_P = (0.1, 0.9, 1.0)


def test_greedy_takes_the_argmax(submission, reference):
    """temperature 0 returns each row's argmax exactly (ties: the lowest index), for B = 1, V = 1, any dtype, drawing nothing"""
    tied = torch.tensor([[1.0, 3.0, 3.0, -2.0], [5.0, 5.0, 5.0, 5.0], [-INF, -1.0, -INF, -1.0]])
    cases = [
        (random_logits(64, 50, seed=1), "B = 64, V = 50"),
        (random_logits(1, 50257, seed=2), "B = 1, V = 50257"),
        (torch.tensor([[0.7]]), "B = 1, V = 1"),
        (tied, "tied maxima"),
        (random_logits(16, 40, seed=3).bfloat16(), "bfloat16 logits"),
        (random_logits(16, 40, seed=4).half(), "float16 logits"),
        (random_logits(8, 30, seed=5, scale=1e4), "logits of size 1e4"),
    ]
    for logits, where in cases:
        want = reference.sample_next(logits.clone(), temperature=0)
        expect_self_check(_equal(want, logits.argmax(dim=-1)), True, f"the reference's greedy choice ({where})")
        g = gen(7)
        got = call_sample(submission, logits, 0, None, None, g, f"temperature 0, {where}")
        if not _equal(got, want):
            raise Misconception(GREEDY, f"{where}: yours {got[:8].tolist()}, the argmax {want[:8].tolist()}")
        expect(_equal(g.get_state(), gen(7).get_state()), GREEDY_DRAWS, f"{where}: the generator's state moved")
        expect_equal(got.tolist(), want.tolist(), f"the greedy ids differ from the argmax ({where})")


def test_temperature_scales_the_logits(submission, reference):
    """temperatures 0.5, 1 and 2 give softmax(logits / T): the right tokens at the right rates, the reference's draws"""
    logits = designed_logits()
    for i, T in enumerate(TEMPERATURES):
        expect_draws(submission, reference, logits, T, None, None, f"9 tokens, {settings_text(T, None, None)}", seed=10 + i, rows_repeat=True)
    for i, T in enumerate((0.7, 1.5)):
        expect_draws(submission, reference, random_logits(4000, 50, seed=20 + i), T, None, None, f"B = 4000, V = 50, T = {T}", seed=20 + i)


def test_top_k_keeps_the_k_largest(submission, reference):
    """top_k of 1, 5, V and more than V: only the k largest logits are drawn, each of them is"""
    logits = designed_logits()
    for i, k in enumerate(TOP_K):
        for T in (1.0, 2.0):
            expect_draws(submission, reference, logits, T, k, None, f"9 tokens, {settings_text(T, k, None)}", seed=30 + i, rows_repeat=True)
    expect_draws(submission, reference, random_logits(4000, 60, seed=35), 1.0, 7, None, "B = 4000, V = 60, top_k = 7", seed=35)


def test_top_k_keeps_ties_with_the_kth(submission, reference):
    """every token tied with the k-th largest logit is kept (here 4 tokens for top_k = 2)"""
    row = torch.tensor([3.0, 2.0, -1.0, 2.0, 2.0, 0.5])  # sorted: 3, 2, 2, 2, 0.5, -1
    logits = row.expand(N_DRAWS, 6).contiguous()
    right = filtered(logits[:1], 1.0, 2)[0]
    expect_self_check(int((right > 0).sum()), 4, "the tokens kept for top_k = 2 with ties")
    expect_draws(submission, reference, logits, 1.0, 2, None, "logits 3, 2, -1, 2, 2, 0.5 with top_k = 2", seed=40, rows_repeat=True)


def test_top_p_keeps_the_smallest_set_reaching_p(submission, reference):
    """top_p of 0.1, 0.6, 0.9 and 1.0 at temperatures 0.5, 1 and 2: the most probable tokens up to and including the one that crosses p"""
    expect_self_check(round(float(DESIGNED.sum()), 12), 1, "the designed probabilities' sum")
    logits = designed_logits()
    for i, (T, p) in enumerate([(T, p) for T in TEMPERATURES for p in (0.1, 0.6, 0.9, 1.0)]):
        expect_self_check(margin_of(logits[:1], T, None, p) > 0.005, True, f"the margin of top_p={p} at T={T}")
        expect_draws(submission, reference, logits, T, None, p, f"9 tokens, {settings_text(T, None, p)}", seed=50 + i, rows_repeat=True)


def test_top_p_always_keeps_one_token(submission, reference):
    """top_p = 0 and a top_p below the largest probability keep exactly the most probable token"""
    logits = random_logits(2000, 50, seed=61)
    top = logits.argmax(dim=-1)
    for p in (0.0, 1e-6):
        got, _ = expect_draws(submission, reference, logits, 1.0, None, p, f"B = 2000, V = 50, top_p = {p}", seed=62)
        expect(_equal(got, top), TOPP_EMPTY, f"top_p = {p}: ids other than the argmax drawn")


def test_top_k_then_top_p(submission, reference):
    """with both, top-k comes first and top-p is chosen from the renormalised distribution top-k leaves"""
    logits = designed_logits()
    for i, (T, k, p) in enumerate(((1.0, 5, 0.7), (1.0, 3, 0.8), (2.0, 5, 0.9), (0.5, 5, 0.9))):
        expect_self_check(margin_of(logits[:1], T, k, p) > 0.005, True, f"the margin of {settings_text(T, k, p)}")
        expect_draws(submission, reference, logits, T, k, p, f"9 tokens, {settings_text(T, k, p)}", seed=70 + i, rows_repeat=True)
    expect_draws(submission, reference, random_logits(4000, 80, seed=75), 0.8, 20, 0.7, "B = 4000, V = 80, T = 0.8, top_k = 20, top_p = 0.7", seed=75)


def test_extreme_and_masked_logits(submission, reference):
    """logits of size 1e4 do not overflow; tokens already at -inf are never drawn; B = 1 and V = 1 work"""
    big = random_logits(3000, 20, seed=81, scale=1e4)
    big[:, :3] = 1e4  # several tokens at the top, 1e4 above exp's range
    big[:, 3] = 1e4 - 1.0
    expect_draws(submission, reference, big, 1.0, None, None, "logits up to 1e4", seed=81)
    expect_draws(submission, reference, big, 0.5, 5, 0.9, "logits up to 1e4, T = 0.5, top_k = 5, top_p = 0.9", seed=82)
    masked = random_logits(3000, 30, seed=83)
    masked[:, ::2] = -INF  # half the vocabulary banned already
    masked[:5, 2:] = -INF  # rows with a single allowed token, id 1
    for i, (T, k, p) in enumerate(((1.0, None, None), (2.0, 20, None), (1.0, None, 0.9), (0.5, 25, 0.95))):
        where = f"half the tokens at -inf, {settings_text(T, k, p)}"
        got, _ = expect_draws(submission, reference, masked, T, k, p, where, seed=84 + i)
        expect(not bool((got % 2 == 0).any()), "a token whose logit is -inf was drawn: its probability is 0", where)
    for logits, where in ((torch.tensor([[2.5]]), "B = 1, V = 1"), (random_logits(1, 40, seed=89), "B = 1, V = 40")):
        for i, (T, k, p) in enumerate(((1.0, None, None), (2.0, 1, None), (0.5, 3, 0.5), (1.0, None, 0.1))):
            expect_draws(submission, reference, logits, T, k, p, f"{where}, {settings_text(T, k, p)}", seed=90 + i)


def test_half_precision_logits_are_widened(submission, reference):
    """bfloat16 and float16 logits are sampled as float32 would be: the reference's draws"""
    for i, dtype in enumerate((torch.bfloat16, torch.float16)):
        logits = random_logits(40000, 12, seed=100 + i, scale=6.0).to(dtype)
        name = str(dtype).removeprefix("torch.")
        want = reference.sample_next(logits.clone(), temperature=0.8, top_k=10, top_p=0.95, generator=gen(101))
        got = call_sample(submission, logits, 0.8, 10, 0.95, gen(101), f"{name} logits")
        if int((got != want).sum()) > allowed_flips(len(want)):
            in_half = _multinomial(filtered_in(logits, 0.8, 10, 0.95), 1, generator=gen(101)).squeeze(-1)
            why = HALF if int((got != in_half).sum()) < int((got != want).sum()) else None
            raise Misconception(
                why or f"the draws from {name} logits differ from the reference's with the same generator",
                f"{name}: {int((got != want).sum())} of {len(want)} draws differ",
            )
        expect_draws(submission, reference, logits, 0.8, 10, 0.95, f"{name} logits", seed=101)


def filtered_in(logits, T, k, p):
    """The reference's filtering computed in the logits' own half-precision dtype: the mistake HALF names."""
    x = logits / T
    x = x.masked_fill(x < x.topk(k, dim=-1).values[:, -1:], -INF)
    probs, order = x.softmax(dim=-1).sort(dim=-1, descending=True)
    drop = probs.cumsum(dim=-1) - probs >= p
    drop[:, 0] = False
    return x.masked_fill(drop.scatter(-1, order, drop), -INF).softmax(dim=-1)


def test_inputs_unchanged_and_the_generator_stream_continues(submission, reference):
    """the logits are left as they were, and two calls on one generator give the reference's first and second draws"""
    logits = random_logits(500, 30, seed=111)
    for T, k, p in ((0.7, 5, 0.9), (1.3, None, 0.8), (1.0, 4, None)):
        where = f"two calls on one generator, {settings_text(T, k, p)}"
        g_ref, g = gen(112), gen(112)
        want = [reference.sample_next(logits.clone(), T, k, p, g_ref) for _ in range(2)]
        got = [call_sample(submission, logits, T, k, p, g, where) for _ in range(2)]  # each call checks its input
        for n, (a, b) in enumerate(zip(got, want)):
            expect(
                int((a != b).sum()) <= allowed_flips(len(b)),
                "the second call on the same generator differs from the reference's: take exactly one multinomial "
                "draw per call from the generator passed in, nothing more",
                f"{where}, call {n + 1}: {int((a != b).sum())} of {len(b)} draws differ",
            )


# Generated inputs: a fixed, bounded sample (derandomized, no example database), so every run sees the same.
PROPERTY = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
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


def test_generated_settings_match(submission, reference, examples_independent_of_your_code):
    """on generated batches (B from 1 to 300, V from 1 to 500, scales 0.1 to 30) and settings, the draws are the reference's"""

    @PROPERTY
    @given(
        B=st.integers(1, 300), V=st.integers(1, 500), log_scale=st.floats(-1, 1.5), seed=st.integers(0, 2**16),
        T=st.sampled_from([0.3, 0.5, 1.0, 1.7, 3.0]), k=st.one_of(st.none(), st.integers(1, 600)),
        p=st.one_of(st.none(), st.floats(0.05, 1.0)),
    )  # fmt: skip
    def matches(B, V, log_scale, seed, T, k, p):
        logits = random_logits(B, V, seed=seed, scale=10**log_scale)
        if margin_of(logits, T, k, p) < 1e-4:  # top_p on a cut: a rounding decides the set, on either side
            return
        where = f"generated: B = {B}, V = {V}, scale {10 ** log_scale:.3g}, {settings_text(T, k, p)}"
        expect_draws(submission, reference, logits, T, k, p, where, seed=seed)

    matches()


def test_latency_budget(submission, reference, budget):
    """on (B = 64, V = 50257) with temperature, top-k and top-p, sample_next stays within the budget of the reference's time"""
    logits = random_logits(64, 50257, seed=121)
    few = logits[:4].clone()
    settings_used = dict(temperature=0.8, top_k=50, top_p=0.9)
    start = _perf_counter()
    reference.sample_next(few.clone(), generator=gen(1), **settings_used)
    theirs = _perf_counter() - start
    start = _perf_counter()
    call_sample(submission, few, 0.8, 50, 0.9, gen(1), "B = 4, V = 50257")
    mine = _perf_counter() - start
    loop = (
        "sample_next is far slower than the reference: a Python loop over the vocabulary (or over its values "
        "with .tolist()) where one tensor operation on the whole (B, V) belongs"
    )
    # a loop over 50257 tokens costs seconds where the reference takes milliseconds: stop before timing it 8 times
    expect(mine <= max(30 * theirs, 0.5), loop, f"B = 4, V = 50257: yours {mine * 1e3:.0f} ms, reference {theirs * 1e3:.0f} ms")
    budget.latency(
        lambda: submission.sample_next(logits.clone(), generator=gen(2), **settings_used),
        lambda: reference.sample_next(logits.clone(), generator=gen(2), **settings_used),
        why=loop, default=3.0, repeat=3,
    )  # fmt: skip
