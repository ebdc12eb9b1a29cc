"""Grader: sampling a group of completions, group advantages, and the GRPO loss.

sample must draw the reference's tokens, draw for draw, from a generator seeded alike (one
multinomial over every row per position), on the course's starting policy; its log-probs, and every
value of group_advantages and grpo_loss, are compared with the reference's on seeded inputs, the
loss's gradient too. When a value differs, the grader recomputes it with the classic mistakes written
out (ratio against the reference, no min, unbiased std, padding counted, ...) and names the one that
reproduces the learner's numbers.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal, expect_self_check
from mentor.lab.rewards import EOS, PAD, completion_mask, make_prompts, starting_policy

# Bound before any learner code runs.
_equal, _multinomial, _log_softmax = torch.equal, torch.multinomial, F.log_softmax

# float64 for the advantages and the loss: a correct formula differs from the reference only in the
# order of its sums (~1e-15), while every mistake below moves the loss or an advantage by 1e-4 or more.
RTOL, ATOL = 1e-9, 1e-12
# A candidate mistake explains the learner's value when it agrees this closely.
SAME = dict(rtol=1e-7, atol=1e-9)
# sample's log-probs in float32: recorded token by token from growing prefixes or recomputed from one
# forward, they differ from the reference's by ~1e-6 (measured); a missing temperature or a shifted
# position moves them by 1e-2 or more.
LP_RTOL, LP_ATOL = 1e-4, 1e-5
EPS_DEFAULT, CLIP, KL = 1e-4, 0.2, 0.1

PROPERTY = settings(
    max_examples=25, deadline=None, derandomize=True, database=None,
    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck),
)  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is tiny: one thread is the fastest setting, and the same rounding on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def policy():
    """The course's starting policy (dropout 0.1), a fresh copy each time."""
    return starting_policy()


def gen(seed):
    return torch.Generator().manual_seed(seed)


# -- sample ---------------------------------------------------------------------------------------
SAMPLE_CASES = (  # P, G, max_new_tokens, temperature, seed
    (3, 4, 6, 1.0, 11),
    (1, 1, 6, 1.0, 12),
    (2, 5, 6, 0.7, 13),
    (4, 3, 3, 1.6, 14),
    (2, 2, 1, 1.0, 15),
)
TOKENS_RULE = (
    "at each position, every row draws once: ONE torch.multinomial(probs, 1, generator=generator) over all P·G "
    "rows, with probs = softmax(last position's logits / temperature), rows that have ended included"
)


@torch.no_grad()
def simulate_tokens(model, prompts, G, L, T, seed, flaw=""):
    """sample's tokens with one classic mistake written out (flaw "" for none)."""
    g = gen(seed)
    ids = prompts.repeat(G, 1) if flaw == "repeat_order" else prompts.repeat_interleave(G, dim=0)
    N = ids.size(0)
    out = torch.full((N, L), PAD, dtype=torch.long)
    done = torch.zeros(N, dtype=torch.bool)
    for t in range(L):
        logits = model(ids)[0][:, -1]
        probs = torch.softmax(logits / (1.0 if flaw == "no_temperature" else T), dim=-1)
        if flaw == "alive_only":
            token = torch.full((N,), PAD, dtype=torch.long)
            if (~done).any():
                token[~done] = _multinomial(probs[~done], 1, generator=g).squeeze(1)
        elif flaw == "greedy":
            token = probs.argmax(dim=-1)
        else:
            token = _multinomial(probs, 1, generator=g).squeeze(1)
        token = torch.where(done, PAD, token)
        out[:, t] = token
        done |= token == EOS
        ids = torch.cat([ids, token[:, None]], dim=1)
    return out


TOKEN_MISTAKES = {
    "repeat_order": (
        "the rows are in the wrong order: the G completions of prompt p are rows p·G .. p·G + G-1, consecutive "
        "(prompt_ids.repeat_interleave(group_size, dim=0)); prompt_ids.repeat(group_size, 1) interleaves the prompts"
    ),
    "no_temperature": (
        "the tokens are drawn without the temperature: sample from softmax(logits / temperature), not softmax(logits)"
    ),
    "alive_only": (
        "only the rows still running draw: every row draws at every position, in one torch.multinomial over all P·G "
        "rows, and an ended row's draw is then replaced by PAD (drawing for a subset of rows uses the generator "
        "differently, so the same seed gives other completions)"
    ),
    "greedy": "the tokens are the argmax of the logits: sample draws from softmax(logits / temperature) with torch.multinomial",
}


def watch_modes(model):
    """A forward pre-hook recording (model.training, autograd enabled) at each forward; returns (seen, handle)."""
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args: seen.append((module.training, torch.is_grad_enabled())))
    return seen, handle


def expect_sample_structure(out, N, L, where):
    """(completions, logprobs) of the right types and shapes, PAD and 0.0 after each row's first EOS."""
    expect(
        isinstance(out, tuple) and len(out) == 2,
        "sample returns a pair (completions, logprobs)",
        f"{where}: got {type(out).__name__}",
    )
    completions, logprobs = out
    for name, value in (("completions", completions), ("logprobs", logprobs)):
        expect(isinstance(value, torch.Tensor), f"sample returns {name} as a tensor", f"{where}: got {type(value).__name__}")
    expect(completions.dtype == torch.long, "completions are token ids, a torch.long tensor", f"{where}: got {completions.dtype}")
    expect(logprobs.dtype.is_floating_point, "logprobs are floating-point log-probabilities", f"{where}: got {logprobs.dtype}")
    expect_equal(
        list(completions.shape), [N, L],
        "completions are (P·G, max_new_tokens): the new tokens only, without the prompt, every row as long as "
        "max_new_tokens (PAD after EOS)",
        f"{where}: completions of shape {tuple(completions.shape)}, expected {(N, L)}",
    )  # fmt: skip
    expect_equal(list(logprobs.shape), [N, L], "logprobs are (P·G, max_new_tokens), one per completion token", f"{where}: shape {tuple(logprobs.shape)}")
    expect(
        not logprobs.requires_grad,
        "sample runs under torch.no_grad(): its log-probs are a record of the sampling policy, not part of a graph",
        f"{where}: logprobs.requires_grad is True",
    )
    mask = completion_mask(completions)
    after = ~mask
    if (completions[after] != PAD).any():
        r = int(after.any(dim=1).nonzero()[0])
        raise Misconception(
            "after a row's first EOS the rest of its completion must be PAD: the completion has ended, so keep "
            "a (P·G,) bool of finished rows and write PAD for them",
            f"{where}: row {r}: {completions[r].tolist()} (EOS = {EOS}, PAD = {PAD})",
        )
    if (logprobs[after] != 0).any():
        r = int(((logprobs != 0) & after).any(dim=1).nonzero()[0])
        raise Misconception(
            "logprobs must be 0.0 where a row is PAD after its EOS: those positions are not tokens of the completion",
            f"{where}: row {r}: tokens {completions[r].tolist()}, logprobs {[round(x, 4) for x in logprobs[r].tolist()]}",
        )
    return completions, logprobs


def sample_of(module, model, prompts, G, L, T, seed):
    return module.sample(model, prompts, G, L, T, gen(seed))


def test_sample_draws_the_reference_tokens(submission, reference):
    """sample draws the reference's tokens from a generator seeded alike, rows p·G .. p·G+G-1 for prompt p, and stops each row at EOS"""
    model = policy()
    for P, G, L, T, seed in SAMPLE_CASES:
        prompts = make_prompts(P, seed)
        want, _ = sample_of(reference, model, prompts, G, L, T, seed)
        expect_self_check(
            _equal(want, simulate_tokens(model, prompts, G, L, T, seed)), True, "the reference's draws"
        )
        before = prompts.clone()
        seen, handle = watch_modes(model)
        try:
            out = sample_of(submission, model, prompts, G, L, T, seed)
        finally:
            handle.remove()
        where = f"P={P}, G={G}, max_new_tokens={L}, temperature={T}"
        expect(_equal(prompts, before), "sample changed the prompt_ids passed in: build the rows in new tensors", where)
        got, _ = expect_sample_structure(out, P * G, L, where)
        if _equal(got, want):
            expect_equal(got.flatten().tolist(), want.flatten().tolist(), f"the tokens differ from the reference's draws ({where})")
            continue
        if any(training for training, _ in seen):
            raise Misconception(
                "sample runs the model in train mode: dropout is on, so the tokens do not come from the policy itself. "
                "Call model.eval() before sampling (and put the mode back afterwards)",
                f"{where}: {sum(t for t, _ in seen)} of {len(seen)} forwards in train mode",
            )
        for flaw, why in TOKEN_MISTAKES.items():
            if _equal(got, simulate_tokens(model, prompts, G, L, T, seed, flaw)):
                raise Misconception(why, f"{where}: row 0: got {got[0].tolist()}, expected {want[0].tolist()}")
        r = int((got != want).any(dim=1).nonzero()[0])
        t = int((got[r] != want[r]).nonzero()[0])
        raise Misconception(
            f"the tokens differ from the reference's draws from row {r}, position {t} on: {TOKENS_RULE}",
            f"{where}: row {r}: got {got[r].tolist()}, expected {want[r].tolist()}",
        )


@torch.no_grad()
def logprobs_of(model, prompts, G, completions, T):
    """log softmax(logits / T) at each completion token, from one forward over prompt + completion."""
    ids = torch.cat([prompts.repeat_interleave(G, dim=0), completions], dim=1)
    logits = model(ids)[0][:, prompts.size(1) - 1 : -1]
    return _log_softmax(logits / T, dim=-1).gather(-1, completions[..., None]).squeeze(-1)


def test_sample_records_the_log_prob_of_each_token(submission, reference):
    """sample's log-probs are log softmax(logits / temperature) at each sampled token, EOS included, 0.0 after it"""
    model = policy()
    for P, G, L, T, seed in SAMPLE_CASES:
        prompts = make_prompts(P, seed)
        want_tokens, want = sample_of(reference, model, prompts, G, L, T, seed)
        where = f"P={P}, G={G}, max_new_tokens={L}, temperature={T}"
        got_tokens, got = expect_sample_structure(sample_of(submission, model, prompts, G, L, T, seed), P * G, L, where)
        expect(
            _equal(got_tokens, want_tokens),
            "the tokens differ from the reference's draws (see test_sample_draws_the_reference_tokens)",
            where,
        )
        got, want = got.double(), want.double()
        if not torch.allclose(got, want, LP_RTOL, LP_ATOL):
            mask = completion_mask(want_tokens)
            at_eos = (want_tokens == EOS) & mask
            untempered = logprobs_of(model, prompts, G, want_tokens, 1.0).double().masked_fill(~mask, 0.0)
            if at_eos.any() and (got[at_eos] == 0).all() and torch.allclose(got[~at_eos], want[~at_eos], LP_RTOL, LP_ATOL):
                why = (
                    "the EOS token's log-prob is left out (0.0): EOS is a token the policy chose, and the first one "
                    "masked is the one after it"
                )
            elif T != 1.0 and torch.allclose(got, untempered, LP_RTOL, LP_ATOL):
                why = "the log-probs ignore the temperature: record log softmax(logits / temperature), the distribution drawn from"
            elif torch.allclose(got, want.exp().masked_fill(~mask, 0.0), LP_RTOL, LP_ATOL):
                why = "these are probabilities: record the log-probability, log_softmax(...) at the sampled token"
            else:
                why = "the log-probs are not log softmax(logits / temperature) of the last position at each sampled token"
            r = int((~torch.isclose(got, want, LP_RTOL, LP_ATOL)).any(dim=1).nonzero()[0])
            raise Misconception(
                why,
                f"{where}: row {r}, tokens {want_tokens[r].tolist()}:\n got      {[round(x, 5) for x in got[r].tolist()]}"
                f"\n expected {[round(x, 5) for x in want[r].tolist()]}",
            )
        expect_close(got, want, f"the log-probs differ from the reference's ({where})", rtol=LP_RTOL, atol=LP_ATOL)


def test_sample_runs_in_eval_mode_without_autograd(submission):
    """sample runs the model in eval mode under no_grad, gives it back in the mode it came in, and leaves its weights alone"""
    for mode in (True, False):
        model = policy().train(mode)
        before = {k: t.clone() for k, t in model.state_dict().items()}
        seen, handle = watch_modes(model)
        try:
            with torch.enable_grad():
                _, logprobs = sample_of(submission, model, make_prompts(2, 3), 3, 4, 1.0, 3)
        finally:
            handle.remove()
        expect(bool(seen), "sample must call the model it is given")
        expect(
            not any(training for training, _ in seen),
            "sample runs the model in train mode: dropout is on, so the tokens and their log-probs do not come from "
            "the policy the loss will compare with. Call model.eval() before sampling",
            f"model given in {'train' if mode else 'eval'} mode: {sum(t for t, _ in seen)} of {len(seen)} forwards in train mode",
        )
        expect(
            not any(grad for _, grad in seen),
            "sample must run under torch.no_grad() (decorate it with @torch.no_grad()): sampling records what the "
            "policy did; a graph over every forward only costs memory",
            f"autograd enabled in {sum(g for _, g in seen)} of {len(seen)} forwards",
        )
        expect(
            model.training == mode,
            "sample must give the model back in the mode it came in (model.train(was_training) at the end): the caller "
            "decides when the model trains",
            f"given in {'train' if mode else 'eval'} mode, left in {'train' if model.training else 'eval'} mode",
        )
        changed = [k for k, t in model.state_dict().items() if not _equal(t, before[k])]
        expect(not changed, "sample changed the model's weights: sampling only reads them", f"changed: {changed[:3]}")
        expect(not logprobs.requires_grad, "sample's log-probs must not require grad: run it under torch.no_grad()")


def test_sample_draws_only_from_the_generator_passed_in(submission):
    """the same seed gives the same completions, another seed others, and the global random state is left alone"""
    model, prompts = policy(), make_prompts(3, 21)
    state = torch.get_rng_state()
    first = sample_of(submission, model, prompts, 4, 6, 1.0, 21)
    moved = not _equal(torch.get_rng_state(), state)
    second = sample_of(submission, model, prompts, 4, 6, 1.0, 21)
    other = sample_of(submission, model, prompts, 4, 6, 1.0, 22)
    expect(
        not moved,
        "sample drew from the global random state: pass the generator it is given to torch.multinomial "
        "(generator=generator), so that a seed decides the completions and nothing else is disturbed",
        "torch.get_rng_state() changed during one call",
    )
    expect(
        _equal(first[0], second[0]),
        "two calls with generators seeded alike gave different completions: draw with the generator passed in",
    )
    expect(
        not _equal(first[0], other[0]),
        "two different seeds gave the same completions: the tokens must be drawn, not chosen by argmax",
    )


def test_sample_edge_sizes(submission, reference):
    """one prompt and one completion, one prompt with many, many prompts with one, and max_new_tokens = 0"""
    model = policy()
    for P, G, L in ((1, 1, 4), (1, 9, 5), (8, 1, 3), (2, 3, 0)):
        prompts = make_prompts(P, 30 + P)
        want, want_lp = sample_of(reference, model, prompts, G, L, 1.0, 31)
        where = f"P={P}, G={G}, max_new_tokens={L}"
        got, got_lp = expect_sample_structure(sample_of(submission, model, prompts, G, L, 1.0, 31), P * G, L, where)
        expect(_equal(got, want), f"the tokens differ from the reference's draws ({where}): {TOKENS_RULE}", where)
        expect_equal(got.flatten().tolist(), want.flatten().tolist(), f"the tokens differ from the reference's draws ({where})")
        expect_close(got_lp.double(), want_lp.double(), f"the log-probs differ from the reference's ({where})", rtol=LP_RTOL, atol=LP_ATOL)


# -- group_advantages ---------------------------------------------------------------------------------
def advantages_with(rewards, eps, flaw=""):
    r = rewards.double()
    dims = dict(dim=None) if flaw == "batch" else dict(dim=0 if flaw == "per_column" else 1, keepdim=True)
    mean = r.mean() if flaw == "batch" else r.mean(**dims)
    if flaw == "batch":
        std = r.std(correction=0)
    else:
        std = r.std(correction=1 if flaw == "unbiased" else 0, **dims)
    if flaw == "no_eps":
        return (r - mean) / std
    if flaw == "eps_inside":
        return (r - mean) / torch.sqrt(std**2 + eps)
    if flaw == "clamp":
        return (r - mean) / std.clamp(min=eps)
    if flaw == "no_std":
        return r - mean
    if flaw == "no_mean":
        return r / (std + eps)
    return (r - mean) / (std + eps)


ADVANTAGE_MISTAKES = {
    "batch": (
        "the advantages are normalised over the whole batch instead of per group: each reward is compared with the "
        "other completions of ITS prompt, mean and std over dim=1 (keepdim=True)"
    ),
    "per_column": "the mean and std are taken over dim=0, across prompts: a group is a row of rewards (P, G), so reduce over dim=1",
    "unbiased": (
        "the std is the unbiased one (torch.std's default, dividing by G - 1): the task asks for the population std, "
        "std(dim=1, correction=0), dividing by G"
    ),
    "eps_inside": "eps is added under the square root: the denominator is std + eps, the population std plus eps",
    "clamp": "the std is clamped at eps: the denominator is std + eps, eps added to every group's std",
    "no_std": "the advantages are not divided by the group's std: (r - mean) / (std + eps)",
    "no_mean": "the group's mean is not subtracted: (r - mean) / (std + eps)",
}
STD_ZERO = (
    "a group whose rewards are all equal has std 0, and dividing by it gives NaN: add eps to the std, "
    "(r - mean) / (std + eps), so such a group gets advantages of 0 (none of its completions was better)"
)


def expect_advantages(got, rewards, eps, where):
    expect(isinstance(got, torch.Tensor), "group_advantages returns a tensor", f"{where}: got {type(got).__name__}")
    expect_equal(list(got.shape), list(rewards.shape), "group_advantages returns one advantage per reward, (P, G)", where)
    expect(got.dtype == rewards.dtype, "group_advantages keeps the rewards' dtype", f"{where}: got {got.dtype}, rewards {rewards.dtype}")
    want = advantages_with(rewards, eps)
    if not torch.isfinite(got).all():
        bad = int((~torch.isfinite(got)).any(dim=1).nonzero()[0])
        row = rewards[bad]
        if bool((row == row[0]).all()):
            raise Misconception(STD_ZERO, f"{where}: rewards {row.tolist()} gave {got[bad].tolist()}")
        raise Misconception("group_advantages returned NaN or inf", f"{where}: row {bad}: {got[bad].tolist()}")
    tight = dict(rtol=1e-9, atol=1e-12) if rewards.dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    if not torch.allclose(got.double(), want, **tight):
        for flaw, why in ADVANTAGE_MISTAKES.items():
            candidate = advantages_with(rewards, eps, flaw)
            if torch.isfinite(candidate).all() and torch.allclose(got.double(), candidate, **tight):
                raise Misconception(why, f"{where}: got {_rows(got)}\n expected {_rows(want)}")
        raise Misconception(
            "the advantages are not (r - group mean) / (group population std + eps)", f"{where}: got {_rows(got)}\n expected {_rows(want)}"
        )
    expect_close(got.double(), want, f"the advantages differ from the reference's ({where})", **tight)


def _rows(x, n=3):
    return [[round(v, 5) for v in row] for row in x.double().tolist()[:n]]


def test_group_advantages_by_hand(submission, reference):
    """the advantages of hand-worked groups: (r - group mean) / (group population std + eps)"""
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.25, 0.25, 0.5], [0.75, 0.75, 0.75, 0.75]], dtype=torch.float64)
    # row 0: mean 1/2, population std 1/2; row 1: mean 1/2, std sqrt((1/4 + 1/16 + 1/16 + 0) / 4) = sqrt(3/32)
    s1 = math.sqrt(3 / 32)
    hand = torch.tensor(
        [
            [0.5 / (0.5 + EPS_DEFAULT), -0.5 / (0.5 + EPS_DEFAULT), -0.5 / (0.5 + EPS_DEFAULT), 0.5 / (0.5 + EPS_DEFAULT)],
            [0.5 / (s1 + EPS_DEFAULT), -0.25 / (s1 + EPS_DEFAULT), -0.25 / (s1 + EPS_DEFAULT), 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
        dtype=torch.float64,
    )
    expect_self_check(bool(torch.allclose(reference.group_advantages(rewards.clone()), hand, 1e-12, 1e-12)), True, "the reference's advantages")
    before = rewards.clone()
    got = submission.group_advantages(rewards)
    expect(_equal(rewards, before), "group_advantages changed the rewards passed in: compute into new tensors")
    expect_advantages(got, rewards, EPS_DEFAULT, "rewards [[1, 0, 0, 1], [1, .25, .25, .5], [.75, .75, .75, .75]]")


def test_a_group_of_equal_rewards_gets_zero_advantages(submission):
    """a group of equal rewards, and a group of one completion, give advantages of exactly 0, not NaN"""
    for rewards, where in (
        (torch.full((2, 5), 0.25, dtype=torch.float64), "two groups of five equal rewards"),
        (torch.tensor([[0.0], [1.0], [0.5]], dtype=torch.float64), "three groups of one completion (G = 1)"),
        (torch.zeros(1, 8), "one group of eight zeros, float32"),
    ):
        got = submission.group_advantages(rewards.clone())
        expect_advantages(got, rewards, EPS_DEFAULT, where)
        expect(bool((got == 0).all()), STD_ZERO if not torch.isfinite(got).all() else "equal rewards give advantages of 0", f"{where}: got {got.tolist()}")


def test_group_advantages_shapes_dtypes_and_eps(submission):
    """one group, groups of one, many groups at different scales, float32 and float64, and the eps passed in"""
    g = gen(40)
    scales = torch.tensor([1e-3, 1.0, 50.0, 1e3], dtype=torch.float64)[:, None]
    cases = (
        (torch.rand(1, 6, generator=g, dtype=torch.float64), EPS_DEFAULT, "one group of six"),
        (scales * torch.rand(4, 16, generator=g, dtype=torch.float64), EPS_DEFAULT, "four groups of 16 at scales 1e-3 .. 1e3"),
        (torch.rand(64, 8, generator=g), EPS_DEFAULT, "64 groups of 8, float32"),
        (torch.rand(3, 4, generator=g, dtype=torch.float64), 0.5, "eps = 0.5"),
    )
    for rewards, eps, where in cases:
        before = rewards.clone()
        got = submission.group_advantages(rewards, eps) if eps != EPS_DEFAULT else submission.group_advantages(rewards)
        expect(_equal(rewards, before), "group_advantages changed the rewards passed in", where)
        if eps != EPS_DEFAULT and torch.allclose(got.double(), advantages_with(rewards, EPS_DEFAULT), 1e-9, 1e-12):
            raise Misconception("the eps argument is ignored: divide by std + eps with the eps passed in", where)
        expect_advantages(got, rewards, eps, where)


def test_group_advantages_on_generated_rewards(submission):
    """on generated groups (rewards in [0, 1], some tied), every advantage equals the reference formula's"""
    # a stub raises here, before hypothesis starts
    submission.group_advantages(torch.zeros(1, 2, dtype=torch.float64))

    @PROPERTY
    @given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**31 - 1), st.sampled_from([1.0, 4.0]))
    def check(P, G, seed, levels):
        raw = torch.rand(P, G, generator=gen(seed), dtype=torch.float64)
        rewards = (raw * levels).round() / levels  # levels = 1: only 0 and 1, so ties and equal groups are common
        expect_advantages(submission.group_advantages(rewards.clone()), rewards, EPS_DEFAULT, f"rewards {rewards.tolist()}")

    check()


# -- grpo_loss ------------------------------------------------------------------------------------
def loss_batch(N=12, L=7, seed=0, dtype=torch.float64, spread=0.35):
    """Log-probs of N completions of varied lengths (one of full length, one of a single token), ratios
    from about 0.4 to 2.5, a reference that differs, advantages of both signs and some zero; the padding
    holds log-probs of its own, so that counting it moves every mean."""
    g = gen(seed)
    lengths = torch.randint(1, L + 1, (N,), generator=g)
    lengths[0], lengths[-1] = L, 1
    mask = torch.arange(L) < lengths[:, None]
    old = -3 * torch.rand(N, L, generator=g, dtype=torch.float64) - 0.05
    new = old + spread * torch.randn(N, L, generator=g, dtype=torch.float64)
    ref = old + 0.3 * torch.randn(N, L, generator=g, dtype=torch.float64)
    adv = torch.randn(N, generator=g, dtype=torch.float64)
    adv[1 % N] = 0.0
    for x in (old, new, ref):
        x[~mask] = -3 * torch.rand(int((~mask).sum()), generator=g, dtype=torch.float64)
    return dict(
        logprobs_new=new.to(dtype), logprobs_old=old.to(dtype), ref_logprobs=ref.to(dtype), advantages=adv.to(dtype), mask=mask
    )


def simulated_loss(b, clip_eps, kl_coef, flaw=""):
    """The loss (float64) with one classic mistake written out (flaw "" for none)."""
    new, old, ref = (b[k].double() for k in ("logprobs_new", "logprobs_old", "ref_logprobs"))
    A, mask = b["advantages"].double()[:, None], b["mask"]
    ratio = torch.exp(new - (ref if flaw == "ratio_vs_ref" else old))
    if flaw == "clip_advantage":
        clipped = ratio * A.clamp(1 - clip_eps, 1 + clip_eps)
    elif flaw == "clip_advantage_eps":
        clipped = ratio * A.clamp(-clip_eps, clip_eps)
    else:
        clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * A
    surrogate = {
        "no_min": -clipped,
        "no_clip": -ratio * A,
        "max": -torch.max(ratio * A, clipped),
    }.get(flaw, -torch.min(ratio * A, clipped))
    if flaw == "kl_swapped":
        log_r = new - ref
    else:
        log_r = ref - new
    kl = torch.exp(log_r) - log_r - 1
    if flaw == "kl_k1":
        kl = new - ref
    beta = {"kl_sign": -kl_coef, "no_kl": 0.0}.get(flaw, kl_coef)
    w = mask.double()
    n = w.sum().clamp(min=1)
    if flaw == "padding_counted":
        return (surrogate + beta * kl).mean()
    if flaw == "kl_not_masked":
        return (surrogate * w).sum() / n + beta * kl.mean()
    if flaw == "per_sequence":
        per_row = ((surrogate + beta * kl) * w).sum(dim=1) / w.sum(dim=1).clamp(min=1)
        return per_row.mean()
    if flaw == "sum":
        return ((surrogate + beta * kl) * w).sum()
    return ((surrogate + beta * kl) * w).sum() / n


LOSS_MISTAKES = {
    "ratio_vs_ref": (
        "the ratio is taken against the reference policy: ratio = exp(logprobs_new - logprobs_old), the policy against "
        "the policy that SAMPLED the batch; the reference only enters the KL term"
    ),
    "no_min": (
        "the surrogate is only the clipped term, without the min: -min(ratio·A, clip(ratio)·A) keeps the unclipped term "
        "wherever it is the smaller one, so a change that made the objective worse is never hidden by the clip"
    ),
    "no_clip": "the ratio is not clipped: the surrogate is -min(ratio·A, clip(ratio, 1 - clip_eps, 1 + clip_eps)·A)",
    "max": "the surrogate takes the max: it is -min(ratio·A, clip(ratio)·A), the pessimistic (smaller) of the two objectives",
    "clip_advantage": (
        "the code clips the advantage instead of the ratio: clip(ratio, 1 - clip_eps, 1 + clip_eps)·A bounds how far "
        "the probability ratio may move; the advantage is used as it is"
    ),
    "clip_advantage_eps": (
        "the code clips the advantage instead of the ratio: clip(ratio, 1 - clip_eps, 1 + clip_eps)·A bounds how far "
        "the probability ratio may move; the advantage is used as it is"
    ),
    "kl_sign": (
        "the KL penalty is subtracted: the loss is surrogate + kl_coef·kl, so that moving away from the reference costs; "
        "with a minus it is rewarded"
    ),
    "kl_swapped": (
        "new and reference are swapped in the KL: the k3 estimator of KL(policy || reference) on the policy's samples is "
        "exp(ref - new) - (ref - new) - 1"
    ),
    "kl_k1": "the KL term is the plain log-ratio new - ref: use the k3 estimator exp(ref - new) - (ref - new) - 1, never negative",
    "no_kl": "the KL term is missing (or kl_coef ignored): loss = surrogate + kl_coef·kl, averaged over the valid tokens",
    "padding_counted": (
        "padding tokens are counted in the mean: average over the valid tokens only, sum(x·mask) / mask.sum(); the "
        "positions after EOS are not part of any completion"
    ),
    "kl_not_masked": (
        "the KL is averaged over padding as well: mask it like the surrogate, sum((surrogate + kl_coef·kl)·mask) / mask.sum()"
    ),
    "per_sequence": (
        "the loss is a mean per sequence, then a mean over sequences: the task asks for one mean over every valid token "
        "of the batch, so that each token weighs the same whatever its completion's length"
    ),
    "sum": "the loss is summed over the valid tokens, not averaged: divide by the number of valid tokens, mask.sum()",
}


def call_loss(module, b, clip_eps=CLIP, kl_coef=KL, grad=True):
    """module.grpo_loss on copies of the batch; (loss, stats, d loss / d logprobs_new, inputs after the call)."""
    inputs = {k: v.clone() for k, v in b.items()}
    inputs["logprobs_new"].requires_grad_(grad)
    out = module.grpo_loss(
        inputs["logprobs_new"], inputs["logprobs_old"], inputs["ref_logprobs"], inputs["advantages"], inputs["mask"],
        clip_eps, kl_coef,
    )  # fmt: skip
    expect(isinstance(out, tuple) and len(out) == 2, "grpo_loss returns a pair (loss, stats)", f"got {type(out).__name__}")
    loss, stats = out
    expect(isinstance(loss, torch.Tensor) and loss.dim() == 0, "the loss is a 0-dim tensor", f"got {type(loss).__name__} {getattr(loss, 'shape', '')}")
    new_grad = None
    if grad:
        expect(
            loss.requires_grad,
            "the loss does not carry a gradient to logprobs_new: compute it from the tensors, without .item(), "
            ".detach() or torch.no_grad() on the new log-probs",
        )
        loss.backward()
        new_grad = inputs["logprobs_new"].grad
    return loss.detach(), stats, new_grad, inputs


def expect_loss_matches(got, want, b, clip_eps, kl_coef, where, rtol=RTOL, atol=ATOL):
    got_v, want_v = float(got), float(want)
    if not math.isfinite(got_v):
        raise Misconception(
            "the loss is NaN or inf: the mean over valid tokens divides by mask.sum(), at least 1, and the padding "
            "must not put inf into a product with 0",
            f"{where}: got {got_v}",
        )
    if not math.isclose(got_v, want_v, rel_tol=rtol, abs_tol=atol):
        for flaw, why in LOSS_MISTAKES.items():
            candidate = float(simulated_loss(b, clip_eps, kl_coef, flaw))
            if math.isclose(got_v, candidate, rel_tol=max(rtol, SAME["rtol"]), abs_tol=max(atol, SAME["atol"])):
                raise Misconception(why, f"{where}: loss {got_v:.8g}, expected {want_v:.8g}")
        raise Misconception(
            "the loss is not the mean over valid tokens of -min(ratio·A, clip(ratio)·A) + kl_coef·k3",
            f"{where}: loss {got_v:.8g}, expected {want_v:.8g}",
        )
    expect_close(got, want, f"the loss differs from the reference's ({where})", rtol=rtol, atol=atol)


def test_grpo_loss_by_hand(submission, reference):
    """a hand-worked batch: each of the clip's four cases, a masked token, and one token off the reference"""
    ln2 = math.log(2.0)
    # row 0, A = +1: ratios 1.5 (clip active: -1.2), 0.5 (unclipped: -0.5), 1 (-1)
    # row 1, A = -2: ratios 1.5 (unclipped: 3), 0.5 (clip active: 1.6), then a masked token of garbage
    old = torch.tensor([[-1.0, -1.0, -2.0], [-1.0, -1.0, -0.5]], dtype=torch.float64)
    new = old + torch.tensor([[math.log(1.5), math.log(0.5), 0.0], [math.log(1.5), math.log(0.5), 2.0]], dtype=torch.float64)
    ref = new + torch.tensor([[0.0, ln2, 0.0], [0.0, 0.0, -3.0]], dtype=torch.float64)  # one valid token off by ln 2
    b = dict(
        logprobs_new=new, logprobs_old=old, ref_logprobs=ref,
        advantages=torch.tensor([1.0, -2.0], dtype=torch.float64),
        mask=torch.tensor([[True, True, True], [True, True, False]]),
    )  # fmt: skip
    kl_sum = 2.0 - ln2 - 1.0  # exp(ln 2) - ln 2 - 1 on that one token, 0 elsewhere
    hand_loss = (-1.2 - 0.5 - 1.0 + 3.0 + 1.6 + KL * kl_sum) / 5
    hand_stats = {"clip_fraction": 2 / 5, "ratio": (1.5 + 0.5 + 1.0 + 1.5 + 0.5) / 5, "kl": kl_sum / 5}
    ref_loss, ref_stats, _, _ = call_loss(reference, b)
    expect_self_check(round(float(ref_loss), 12), round(hand_loss, 12), "the reference's loss on the hand-worked batch")
    expect_self_check({k: round(v, 12) for k, v in ref_stats.items()}, {k: round(v, 12) for k, v in hand_stats.items()}, "its stats")
    loss, stats, _, _ = call_loss(submission, b)
    expect_loss_matches(loss, torch.tensor(hand_loss, dtype=torch.float64), b, CLIP, KL, "the hand-worked batch")
    expect_stats(stats, hand_stats, b, CLIP, "the hand-worked batch")


STAT_KEYS = ("clip_fraction", "ratio", "kl")


def stats_with(b, clip_eps, flaw=""):
    new, old, ref = (b[k].double() for k in ("logprobs_new", "logprobs_old", "ref_logprobs"))
    A, mask = b["advantages"].double()[:, None], b["mask"]
    ratio, log_r = torch.exp(new - old), ref - new
    kl = torch.exp(log_r) - log_r - 1
    n = mask.sum().clamp(min=1).double()
    if flaw == "both_sides":
        active = (ratio - 1).abs() > clip_eps
    else:
        active = ((ratio > 1 + clip_eps) & (A > 0)) | ((ratio < 1 - clip_eps) & (A < 0))
    if flaw == "unmasked":
        return {"clip_fraction": float(active.double().mean()), "ratio": float(ratio.mean()), "kl": float(kl.mean())}
    return {
        "clip_fraction": float((active & mask).sum() / n),
        "ratio": float((ratio * mask).sum() / n),
        "kl": float((kl * mask).sum() / n),
    }


def expect_stats(stats, want, b, clip_eps, where, rtol=1e-6, atol=1e-9):  # a fraction or mean taken in float32 is still right
    expect(isinstance(stats, dict), "stats is a dict of Python floats", f"{where}: got {type(stats).__name__}")
    missing = [k for k in STAT_KEYS if k not in stats]
    expect(not missing, f"stats holds the keys {', '.join(STAT_KEYS)}", f"{where}: missing {missing}, got {sorted(map(str, stats))}")
    for k in STAT_KEYS:
        expect(
            type(stats[k]) is float,
            f"stats[{k!r}] is a Python float (float(...) or .item() of a value computed without autograd): something to log",
            f"{where}: got {type(stats[k]).__name__}",
        )
    for k in STAT_KEYS:
        if math.isclose(stats[k], want[k], rel_tol=rtol, abs_tol=atol):
            continue
        if k == "clip_fraction" and math.isclose(stats[k], stats_with(b, clip_eps, "both_sides")[k], rel_tol=1e-9, abs_tol=1e-12):
            why = (
                "clip_fraction counts every token whose ratio is outside [1 - clip_eps, 1 + clip_eps]: the clip is active "
                "only where min() takes the clipped term and its gradient is 0, ratio > 1 + clip_eps with A > 0 or "
                "ratio < 1 - clip_eps with A < 0. A token outside the range with an advantage of the other sign keeps its gradient"
            )
        elif math.isclose(stats[k], stats_with(b, clip_eps, "unmasked")[k], rel_tol=1e-9, abs_tol=1e-12):
            why = f"stats[{k!r}] counts the padding: take it over the valid tokens only (the mask)"
        else:
            why = {
                "clip_fraction": "clip_fraction is the share of valid tokens whose clip is active",
                "ratio": "stats['ratio'] is the mean of exp(new - old) over the valid tokens",
                "kl": "stats['kl'] is the mean k3 estimate over the valid tokens, without kl_coef",
            }[k]
        raise Misconception(why, f"{where}: stats[{k!r}] = {stats[k]:.8g}, expected {want[k]:.8g}")
    expect_close([stats[k] for k in STAT_KEYS], [want[k] for k in STAT_KEYS], f"the stats differ from the reference's ({where})", rtol=rtol, atol=atol)


def test_grpo_loss_matches_the_reference(submission, reference):
    """on seeded batches of varied lengths, the loss, its gradient with respect to logprobs_new and the stats are the reference's"""
    for seed, clip_eps, kl_coef in ((1, 0.2, 0.1), (2, 0.1, 0.5), (3, 0.3, 0.0)):
        b = loss_batch(seed=seed)
        where = f"batch {seed}: 12 completions of 1 to 7 tokens, clip_eps={clip_eps}, kl_coef={kl_coef}"
        want, want_stats, want_grad, _ = call_loss(reference, b, clip_eps, kl_coef)
        got, stats, grad, after = call_loss(submission, b, clip_eps, kl_coef)
        changed = [k for k in b if k != "logprobs_new" and not _equal(after[k], b[k])] + (
            ["logprobs_new"] if not _equal(after["logprobs_new"].detach(), b["logprobs_new"]) else []
        )
        expect(not changed, "grpo_loss changed its inputs: compute into new tensors", f"{where}: changed {changed}")
        expect(got.dtype == torch.float64, "the loss keeps the log-probs' dtype (float64 here)", f"{where}: got {got.dtype}")
        expect_loss_matches(got, want, b, clip_eps, kl_coef, where)
        expect(grad is not None, "no gradient reached logprobs_new: the loss must be computed from it")
        if not torch.allclose(grad, want_grad, RTOL, 1e-12):
            raise Misconception(
                "the loss has the right value but the wrong gradient with respect to logprobs_new: is part of it computed "
                "from a detached copy of the new log-probs, or is the clip done on values instead of tensors?",
                f"{where}: largest difference {float((grad - want_grad).abs().max()):.3g}",
            )
        expect_close(grad, want_grad, f"the gradient differs from the reference's ({where})", rtol=RTOL, atol=1e-12)
        expect_stats(stats, want_stats, b, clip_eps, where)
        again, _, _, _ = call_loss(submission, b, clip_eps, kl_coef)
        expect(float(again) == float(got), "two calls on the same batch gave different losses", where)


def test_no_gradient_reaches_the_old_or_reference_log_probs(submission):
    """logprobs_old and ref_logprobs are constants of the loss: after backward() neither has a gradient"""
    b = loss_batch(seed=5)
    inputs = {k: v.clone() for k, v in b.items()}
    for k in ("logprobs_new", "logprobs_old", "ref_logprobs"):
        inputs[k].requires_grad_(True)
    loss, _ = submission.grpo_loss(
        inputs["logprobs_new"], inputs["logprobs_old"], inputs["ref_logprobs"], inputs["advantages"], inputs["mask"], CLIP, KL
    )
    loss.backward()
    for name, why in (
        ("logprobs_old", (
            "a gradient flows into logprobs_old: detach it (logprobs_old.detach()). The old policy's log-probs are a "
            "record of what sampled the batch; the ratio's gradient must move the new policy only"
        )),
        ("ref_logprobs", (
            "a gradient flows into ref_logprobs: detach it. The reference is frozen; the KL term must pull the policy "
            "towards it, never the reference towards the policy"
        )),
    ):  # fmt: skip
        grad = inputs[name].grad
        expect(grad is None or not bool(grad.any()), why, f"{name}.grad has {int((grad != 0).sum()) if grad is not None else 0} nonzero entries")
    expect(inputs["logprobs_new"].grad is not None, "no gradient reached logprobs_new")


def test_grpo_loss_on_generated_batches(submission, reference):
    """on generated batches (1 to 9 completions of 1 to 8 tokens, float32 and float64) the loss and its gradient are the reference's"""
    call_loss(submission, loss_batch(N=2, L=2, seed=9))  # a stub raises here, before hypothesis starts

    @PROPERTY
    @given(st.integers(1, 9), st.integers(1, 8), st.integers(0, 2**31 - 1), st.sampled_from([torch.float64, torch.float32]))
    def check(N, L, seed, dtype):
        b = loss_batch(N=N, L=L, seed=seed, dtype=dtype)
        where = f"N={N}, L={L}, seed={seed}, {dtype}"
        want, _, want_grad, _ = call_loss(reference, b)
        got, _, grad, _ = call_loss(submission, b)
        expect(got.dtype == dtype, "the loss keeps the log-probs' dtype", f"{where}: got {got.dtype}")
        tol = dict(rtol=RTOL, atol=ATOL) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
        expect_loss_matches(got, want, b, CLIP, KL, where, **tol)
        expect(grad is not None and torch.allclose(grad, want_grad, tol["rtol"], 1e-6 if dtype == torch.float32 else 1e-12),
               "the gradient with respect to logprobs_new differs from the reference's", where)  # fmt: skip

    check()


def test_a_batch_without_valid_tokens_gives_zero(submission):
    """a mask with no valid token gives a loss of 0 (not NaN), stats of 0.0, and a backward() that works"""
    b = loss_batch(N=3, L=4, seed=6)
    b["mask"] = torch.zeros_like(b["mask"])
    loss, stats, grad, _ = call_loss(submission, b)
    expect(
        math.isfinite(float(loss)) and float(loss) == 0.0,
        "with no valid token the loss must be 0: divide by mask.sum() clamped to at least 1 (mask.sum().clamp(min=1)), "
        "not by a count of 0",
        f"loss {float(loss)}",
    )
    expect(isinstance(stats, dict) and all(stats.get(k) == 0.0 for k in STAT_KEYS), "with no valid token every stat is 0.0", f"stats {stats}")
    expect(grad is not None and bool(torch.isfinite(grad).all()) and not bool(grad.any()), "with no valid token the gradient is 0")


def test_grpo_loss_on_the_gpu(submission, reference):
    """on a GPU, where there is one, the loss is computed on the log-probs' device and equals the reference's"""
    b = loss_batch(seed=7, dtype=torch.float32)
    want, _, _, _ = call_loss(reference, b)
    if torch.cuda.is_available():
        b = {k: v.cuda() for k, v in b.items()}
    got, stats, _, _ = call_loss(submission, b)
    expect(got.device == b["mask"].device, "the loss lives on the log-probs' device", f"got {got.device}")
    expect_close(got.cpu(), want, "the loss differs from the reference's (float32)", rtol=1e-5, atol=1e-6)
