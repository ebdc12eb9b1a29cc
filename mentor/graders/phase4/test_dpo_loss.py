"""Grader: sequence log-probabilities of a response and the DPO loss, against the reference.

sequence_logprobs runs on the course's GPT with random weights (float64, float32 and bfloat16) over
padded preference batches from mentor.lab.preferences, and on stand-in models whose logits are set
by hand (tokens of probability e^-1000, a row with nothing to score). dpo_loss runs on hand-made and
generated log-probabilities, margins up to ±9000, with gradients. When a value differs, the grader
computes the classic mistakes from the same logits or log-probs (averaged, prompt included, labels
not shifted, sign flipped, beta ignored, ...) and names the one that reproduces the learner's.
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_self_check
from mentor.lab.gpt import GPT
from mentor.lab.preferences import IGNORE, SFT_CONFIG, collate, make_pairs

# Bound before any learner code runs: the expected values never go through a patched name.
_logsigmoid, _log_softmax, _equal = F.logsigmoid, F.log_softmax, torch.equal

# float64: a correct sum of log-probs differs from the reference only in the order of its additions,
# ~1e-15 on values of size ~10; every mistake below moves a value by 1e-2 or more.
RTOL, ATOL = 1e-10, 1e-12
# float32 and bfloat16 logits widened to float32: only float32 rounding of the sum, ~1e-6 on a sum of ~50
# terms; log_softmax taken in bfloat16 is off by ~1e-2 per token.
RTOL32, ATOL32 = 1e-5, 1e-5
# Telling mistakes apart: a candidate explains the learner's value when it agrees this closely.
SAME = dict(rtol=1e-7, atol=1e-9)

# -- messages ---------------------------------------------------------------------------------------
AVERAGED = (
    "the log-probs are averaged over the response's tokens instead of summed: log π(y|x) is the sum over "
    "the response of log π(y_t | x, y_<t); a mean divides each sequence by its own length"
)
PROMPT_SCORED = (
    "the prompt's tokens are summed too: only positions whose label is not -100 count (the response and "
    "<eos>); score the labels, not input_ids"
)
PADDING_SCORED = (
    "every position is summed, padding included: only positions whose label is not -100 count (the response "
    "and <eos>); the prompt and the <pad> tail add nothing"
)
UNSHIFTED = (
    "the labels are not shifted: the logits at position t predict the token at t + 1, so the label at t is "
    "scored by the logits at t - 1 (compare logits[:, :-1] with labels[:, 1:])"
)
SHIFTED_BACK = (
    "the labels are shifted the wrong way: the label at position t is scored by the logits at t - 1, before "
    "it (logits[:, :-1] with labels[:, 1:]), not by the logits after it"
)
IGNORED_AS_TOKEN = (
    "positions labelled -100 are scored as token 0: replacing -100 by a valid index before gather is right, "
    "but those positions must then be masked out of the sum"
)
PROBABILITY = "the result is a probability, not a log-probability: return the sum of the tokens' log-probs (no exp)"
NEGATED = "the result is negated: a log-probability is at most 0, the sum of log π(token), not of -log π(token)"
GATHER_MINUS_100 = (
    "gather was given the label -100 as an index: replace the ignored labels by a valid index (0) before "
    "gather, then mask those positions out of the sum"
)
SOFTMAX_THEN_LOG = (
    "log(softmax(x)) underflows: a token of probability below ~1e-38 gets softmax 0 and log 0 = -inf. Use "
    "F.log_softmax (x - logsumexp(x)), which never forms the tiny probability"
)
FLOOR_IN_LOG = (
    "for very unlikely tokens your log-probs are too high: log(softmax(x) + eps) or a clamp on the probability "
    "floors them (at log eps). F.log_softmax gives the exact value, here about -1000"
)
HALF_LOGSOFTMAX = (
    "log_softmax ran in bfloat16 and was widened afterwards: cast the logits to float32 first, then "
    "log_softmax; bfloat16's 8 bits of mantissa lose ~1e-2 per token, and the sum over a response adds them up"
)
NO_GRAPH = (
    "the log-probs carry no graph: the policy is trained through sequence_logprobs, so it must not run under "
    "torch.no_grad() or detach its result (the caller wraps the reference's call in no_grad)"
)
SIGN_FLIPPED = (
    "the sign of the margin is flipped: the loss is -logsigmoid(+beta·margin), so it falls as the chosen "
    "response gains on the rejected one; yours rises"
)
SWAPPED = (
    "chosen and rejected are swapped: the first argument, pi_chosen, is the preferred response; the loss "
    "pushes its log-ratio up and the rewards come back in the order (chosen, rejected)"
)
BETA_IGNORED = "beta is ignored: the margin is multiplied by beta, -logsigmoid(beta·margin)"
BETA_DIVIDES = "beta divides the margin: it multiplies it, -logsigmoid(beta·margin); beta is not a temperature here"
BETA_TWICE = "beta is applied twice: the margin is beta·((pi_c - ref_c) - (pi_r - ref_r)), once"
BETA_ONE_SIDE = (
    "beta multiplies only the chosen log-ratio: it multiplies the whole difference, "
    "beta·((pi_c - ref_c) - (pi_r - ref_r))"
)
NO_REFERENCE = (
    "the reference's log-probs are not subtracted: DPO compares log-ratios, (pi_c - ref_c) - (pi_r - ref_r); "
    "without the reference nothing keeps the policy near where it started"
)
SUMMED = "the loss is summed over the batch: it is the mean over the pairs, so it does not grow with the batch size"
NOT_NEGATED = "the loss is logsigmoid(margin), without the minus: a loss is minimised, -logsigmoid(beta·margin) >= 0"
LOG_OF_SIGMOID = (
    "the loss overflows for a large negative margin: log(sigmoid(x)) rounds sigmoid to 0 and its log to -inf "
    "(and log(1 + exp(-x)) overflows exp at the same point). F.logsigmoid(x) computes -softplus(-x), finite "
    "for any margin"
)
REWARD_NO_BETA = "the rewards lack beta: each implicit reward is beta·(pi - ref), the log-ratio scaled by beta"
REWARD_NO_REF = "the rewards lack the reference: each implicit reward is beta·(pi - ref), not beta·pi"
REWARD_SWAPPED = "the rewards are swapped: return (loss, chosen_reward, rejected_reward), in that order"
REF_GRAD = (
    "the reference's log-probs get a gradient: they are constants of the loss; detach them (ref.detach()), so "
    "that no gradient can reach the reference model even if the caller's tensors carry a graph"
)
REWARDS_GRAD = (
    "the rewards are not detached: they are for logging and accuracy, not for backward; return "
    "(beta·(pi - ref)).detach()"
)

# -- inputs -------------------------------------------------------------------------------------------


def gen(seed):
    """A private random generator: the expected values never depend on the global random state."""
    return torch.Generator().manual_seed(seed)


def random_gpt(seed, dtype=torch.float64, scale=0.3):
    """The course's GPT (the preference task's size) with random weights of `scale`, LayerNorms left at 1
    and 0: its log-probs differ from token to token and row to row."""
    g = gen(seed)
    with torch.random.fork_rng():
        model = GPT(SFT_CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" not in name.split(".")[-2]:
                p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model.to(dtype)


def batch(n, seed):
    """n preference pairs tokenized: prompts of 3 to 6 letters, responses of other lengths, right-padded."""
    return collate(make_pairs(n, seed=seed))


class FixedLogits(nn.Module):
    """A stand-in model: whatever the ids, forward returns the logits it was built with, (B, T, V)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, idx, targets=None):
        B, T = idx.shape
        return self.logits[:B, :T], None


# -- what the mistakes give, from the same logits ---------------------------------------------------------


@torch.no_grad()
def logits_of(model, ids):
    logits, _ = model(ids)
    return logits.detach().double()


def _gathered(logp, index):
    return logp.gather(-1, index.clamp(min=0).unsqueeze(-1)).squeeze(-1)


def logprob_mistakes(logits, ids, labels):
    """[(values, why)]: the classic mistakes of sequence_logprobs on these float64 logits."""
    logp = _log_softmax(logits, dim=-1)  # (B, T, V)
    shifted, targets = logp[:, :-1], labels[:, 1:]
    scored = targets != IGNORE
    picked = _gathered(shifted, targets)
    right = (picked * scored).sum(-1)
    count = scored.sum(-1).clamp(min=1)
    real = ids[:, 1:] != 0  # <pad> is id 0
    unshifted_scored = labels != IGNORE
    back = torch.zeros_like(right)
    if logits.shape[1] > 1:
        back = (_gathered(logp[:, 1:], labels[:, :-1]) * (labels[:, :-1] != IGNORE)).sum(-1)
    return [
        (right / count, AVERAGED),
        ((_gathered(shifted, ids[:, 1:]) * real).sum(-1), PROMPT_SCORED),
        (_gathered(shifted, ids[:, 1:]).sum(-1), PADDING_SCORED),
        ((_gathered(logp, labels) * unshifted_scored).sum(-1), UNSHIFTED),
        (back, SHIFTED_BACK),
        (picked.sum(-1), IGNORED_AS_TOKEN),
        (right.exp(), PROBABILITY),
        (-right, NEGATED),
    ]


def close(got, want, rtol, atol) -> bool:
    return (
        isinstance(got, torch.Tensor)
        and got.shape == want.shape
        and bool(torch.allclose(got.detach().double(), want.double(), rtol=rtol, atol=atol))
    )


def diagnose_logprobs(got, logits, ids, labels):
    """The message of the first mistake whose values the learner's reproduce, or None."""
    for values, why in logprob_mistakes(logits, ids, labels):
        if close(got, values, **SAME):
            return why
    return None


def call_logprobs(submission, model, ids, labels, where):
    """The learner's sequence_logprobs: a (B,) tensor back, the crashes a mistake explains named."""
    try:
        got = submission.sequence_logprobs(model, ids, labels)
    except NotImplementedError:
        raise
    except RuntimeError as e:
        if "-100" in str(e) and ("out of bounds" in str(e) or "index" in str(e)):
            raise Misconception(GATHER_MINUS_100, f"{where}: RuntimeError: {e}") from None
        raise
    B = ids.shape[0]
    expect(got is not None, "sequence_logprobs returned None: did you forget `return`?")
    expect(isinstance(got, torch.Tensor), "sequence_logprobs returns a tensor", f"{where}: got {type(got).__name__}")
    if got.dim() == 2 and got.shape[0] == B:
        raise Misconception(
            "sequence_logprobs returns one number per sequence, (B,): sum the tokens' log-probs over the sequence "
            "(dim=-1)",
            f"{where}: shape {tuple(got.shape)}",
        )
    if got.dim() == 0:
        raise Misconception(
            "sequence_logprobs returns one number per sequence, (B,), not one for the whole batch: sum over the "
            "sequence only (dim=-1)",
            f"{where}: a 0-dim tensor",
        )
    expect(got.shape == (B,), "sequence_logprobs returns a (B,) tensor", f"{where}: shape {tuple(got.shape)}, B={B}")
    return got


def expect_logprobs(got, want, logits, ids, labels, where, rtol=RTOL, atol=ATOL, extra=()):
    """got matches want; otherwise the mistake the values point at."""
    if not close(got, want, rtol, atol):
        why = diagnose_logprobs(got, logits, ids, labels)
        for values, message in extra:
            if why is None and close(got, values, **SAME):
                why = message
        if why is None and close(got, want, rtol=1e-5, atol=1e-6):
            why = (
                f"sequence_logprobs agrees with the reference only to about 1e-6, a difference of precision alone "
                f"({where}): is an eps added inside a log, or part of the sum done in a narrower dtype?"
            )
        raise Misconception(why or f"sequence_logprobs differs from the reference ({where})", _rows(got, want))
    expect_close(got.detach(), want, f"sequence_logprobs differs from the reference ({where})", rtol=rtol, atol=atol)


def _rows(got, want):
    g, w = got.detach().double().flatten().tolist(), want.double().flatten().tolist()
    shown = ", ".join(f"{a:.6g} (expected {b:.6g})" for a, b in list(zip(g, w))[:4])
    worst = max((abs(a - b) for a, b in zip(g, w)), default=0.0)
    return f"per sequence: {shown}" + (" ..." if len(g) > 4 else "") + f"; largest difference {worst:.2g}"



@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- sequence_logprobs -------------------------------------------------------------------------------


def test_sums_the_response_tokens_of_a_padded_batch(submission, reference):
    """sequence_logprobs sums log π of the response's tokens only (labels not -100), shifted, on padded batches"""
    for seed, n in ((1, 8), (2, 5), (3, 1)):
        model = random_gpt(seed)
        pairs = batch(n, seed=10 + seed)
        for side, ids, labels in (("chosen", pairs.chosen_ids, pairs.chosen_labels), ("rejected", pairs.rejected_ids, pairs.rejected_labels)):
            want = reference.sequence_logprobs(model, ids, labels).detach()
            logits = logits_of(model, ids)
            where = f"GPT in float64, {n} {side} sequences of length {ids.shape[1]}"
            got = call_logprobs(submission, model, ids.clone(), labels.clone(), where)
            expect(
                got.dtype == torch.float64,
                "a float64 model's log-probs must stay float64: widen only narrower dtypes (bfloat16, float16) to "
                "float32, e.g. logits.to(torch.promote_types(logits.dtype, torch.float32)); .float() would narrow "
                "float64",
                f"{where}: got {got.dtype}",
            )
            expect_logprobs(got, want, logits, ids, labels, where)


def test_hand_set_logits_and_edge_cases(submission, reference):
    """B = 1, a single scored token, a row with nothing to score (0), the longest sequence the model takes"""
    g = gen(4)
    V = SFT_CONFIG.vocab_size
    logits = 3 * torch.randn(3, 16, V, generator=g, dtype=torch.float64)
    ids = torch.randint(3, V, (3, 16), generator=g)
    labels = torch.full((3, 16), IGNORE)
    labels[0, 5:9] = ids[0, 5:9]  # a response of 4 tokens after a prompt of 5
    labels[1, 1] = ids[1, 1]  # one scored token, right after <bos>
    # row 2: nothing scored, its sum is 0
    cases = (
        ("3 rows: 4 tokens scored, 1 token, none", slice(0, 3), 16),
        ("B = 1, T = 2: a single scored token", slice(1, 2), 2),
        ("B = 1, one response of 4 tokens, T = 16 (block_size)", slice(0, 1), 16),
    )
    for where, rows, T in cases:
        model = FixedLogits(logits[rows, :T])
        x, y = ids[rows, :T], labels[rows, :T]
        want = reference.sequence_logprobs(model, x, y).detach()
        got = call_logprobs(submission, model, x.clone(), y.clone(), where)
        if rows.stop == 3:
            expect_self_check(float(want[2]), 0, "the reference's sum over a row with nothing scored")
        expect_logprobs(got, want, logits_of(model, x), x, y, where)


def test_very_unlikely_tokens_stay_finite(submission, reference):
    """tokens of probability about e^-1000 give log-probs of about -1000, not -inf: log_softmax, not log(softmax)"""
    g = gen(5)
    B, T, V = 4, 12, SFT_CONFIG.vocab_size
    ids = torch.randint(3, V, (B, T), generator=g)
    labels = torch.full((B, T), IGNORE)
    labels[:, 4:10] = ids[:, 4:10]
    base = 2 * torch.randn(B, T, V, generator=g)
    # the logit of each scored token sits 1000 below the others: a probability far below float64's smallest
    for b in range(B):
        for t in range(1, T):
            if labels[b, t] != IGNORE:
                base[b, t - 1, labels[b, t]] -= 1000.0
    for dtype in (torch.float32, torch.float64):
        model = FixedLogits(base.to(dtype))
        where = f"logits in {str(dtype).removeprefix('torch.')}, scored tokens ~1000 below the rest"
        want = reference.sequence_logprobs(model, ids, labels).detach()
        got = call_logprobs(submission, model, ids.clone(), labels.clone(), where)
        values = got.detach().double()
        expect(bool(torch.isfinite(values).all()), SOFTMAX_THEN_LOG, f"{where}: {_rows(got, want)}")
        logits = logits_of(model, ids)
        if not close(got, want, RTOL32, ATOL32) and diagnose_logprobs(got, logits, ids, labels) is None:
            # a floor on each token's probability leaves every sum far above the true ~-1000 per token
            expect(not bool((values > want.double() / 10).all()), FLOOR_IN_LOG, f"{where}: {_rows(got, want)}")
        expect_logprobs(got, want, logits, ids, labels, where, rtol=RTOL32, atol=ATOL32)


def test_half_precision_logits_are_widened(submission, reference):
    """a bfloat16 model gives float32 log-probs computed from widened logits; a float32 model float32"""
    pairs = batch(6, seed=21)
    ids, labels = pairs.chosen_ids, pairs.chosen_labels
    for dtype in (torch.bfloat16, torch.float32):
        model = random_gpt(22, dtype=dtype)
        name = str(dtype).removeprefix("torch.")
        where = f"GPT in {name}, 6 sequences"
        want = reference.sequence_logprobs(model, ids, labels).detach()
        got = call_logprobs(submission, model, ids.clone(), labels.clone(), where)
        expect(
            got.dtype == torch.float32,
            f"a {name} model's log-probs must come back in float32: cast the logits up to float32 before "
            "log_softmax (summing many log-probs in bfloat16 loses most of their digits)",
            f"{where}: got {got.dtype}",
        )
        with torch.no_grad():
            raw, _ = model(ids)
            in_half = (_gathered(raw.log_softmax(-1)[:, :-1].float(), labels[:, 1:]) * (labels[:, 1:] != IGNORE)).sum(-1)
        extra = [(in_half, HALF_LOGSOFTMAX)] if dtype == torch.bfloat16 else []
        expect_logprobs(got, want, raw.double(), ids, labels, where, rtol=RTOL32, atol=ATOL32, extra=extra)


def test_gradients_reach_the_model(submission, reference):
    """the log-probs are differentiable: backward gives every parameter the reference's gradient"""
    pairs = batch(5, seed=31)
    ids, labels = pairs.rejected_ids, pairs.rejected_labels
    weights = torch.tensor([1.0, -0.5, 2.0, 0.25, -1.5], dtype=torch.float64)  # rows weighted apart
    model = random_gpt(32)
    ref_model = random_gpt(32)
    (reference.sequence_logprobs(ref_model, ids, labels) * weights).sum().backward()
    where = "GPT in float64, 5 sequences"
    got = call_logprobs(submission, model, ids.clone(), labels.clone(), where)
    expect(got.requires_grad and got.grad_fn is not None, NO_GRAPH, "the returned tensor has requires_grad=False")
    expect_logprobs(got, reference.sequence_logprobs(ref_model, ids, labels).detach(), logits_of(model, ids), ids, labels, where)
    (got * weights).sum().backward()
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
        expect(p.grad is not None, NO_GRAPH, f"{name} got no gradient")
        why = f"the gradient of {name} differs from the reference's"
        if not close(p.grad, q.grad, 1e-8, 1e-10) and close(p.grad, q.grad, 1e-4, 1e-6):
            why += ", by a difference of precision alone: is an eps added inside a log, or a step done in a narrower dtype?"
        expect_close(p.grad, q.grad, why, rtol=1e-8, atol=1e-10)


def test_inputs_and_model_unchanged_and_repeatable(submission, reference):
    """sequence_logprobs leaves ids, labels, the weights and the train/eval mode alone; a second call agrees"""
    pairs = batch(4, seed=41)
    ids, labels = pairs.chosen_ids, pairs.chosen_labels
    for mode in ("train", "eval"):
        model = random_gpt(42)
        getattr(model, mode)()
        want = reference.sequence_logprobs(model, ids, labels).detach()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        x, y = ids.clone(), labels.clone()
        first = call_logprobs(submission, model, x, y, f"model in {mode} mode, first call")
        expect(_equal(x, ids), "sequence_logprobs changed input_ids: read them, never write them")
        expect(
            _equal(y, labels),
            "sequence_logprobs changed the labels passed in (an in-place write such as labels[labels == -100] = 0): "
            "build the index for gather as a new tensor (labels.clamp(min=0), labels.masked_fill(...))",
            f"-100 entries: {int((labels == IGNORE).sum())} before, {int((y == IGNORE).sum())} after",
        )
        changed = [k for k, v in model.state_dict().items() if not _equal(v, before[k])]
        expect(not changed, "sequence_logprobs changed the model's weights", f"changed: {changed[:4]}")
        expect(
            model.training == (mode == "train"),
            f"sequence_logprobs changed the model's mode (it was in {mode} mode): the caller decides train or eval "
            "(the policy trains with its own setting, the reference is put in eval once)",
        )
        second = call_logprobs(submission, model, x, y, f"model in {mode} mode, second call")
        logits = logits_of(model, ids)
        expect_logprobs(first, want, logits, ids, labels, f"model in {mode} mode, first call")
        expect_logprobs(second, want, logits, ids, labels, f"model in {mode} mode, second call")


# -- dpo_loss --------------------------------------------------------------------------------------------

DPO_ARGS = ("pi_chosen", "pi_rejected", "ref_chosen", "ref_rejected")


def logps(B, seed, dtype=torch.float64, scale=8.0):
    """Four (B,) tensors of log-probs (negative, tens of nats) for the policy and the reference."""
    g = gen(seed)
    base = -scale * (1 + torch.rand(2, B, generator=g, dtype=torch.float64))
    pi = base + torch.randn(2, B, generator=g, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (pi[0], pi[1], base[0], base[1]))


def loss_mistakes(pc, pr, rc, rr, beta):
    """[(loss, why)]: the classic mistakes of dpo_loss on these float64 log-probs."""
    m = (pc - rc) - (pr - rr)

    def loss(x):
        return -_logsigmoid(x).mean()

    return [
        (loss(-beta * m), SIGN_FLIPPED),
        (loss(m), BETA_IGNORED),
        (loss(m / beta), BETA_DIVIDES),
        (loss(beta * beta * m), BETA_TWICE),
        (loss(beta * (pc - rc) - (pr - rr)), BETA_ONE_SIDE),
        (loss(beta * (pc - pr)), NO_REFERENCE),
        (-_logsigmoid(beta * m).sum(), SUMMED),
        (_logsigmoid(beta * m).mean(), NOT_NEGATED),
    ]


def diagnose_gradients(grads, args, beta):
    """The mistake whose loss has the learner's gradients in pi_chosen and pi_rejected, or None."""
    for index in range(len(loss_mistakes(*args, beta))):
        leaves = [a.detach().double().clone().requires_grad_(i < 2) for i, a in enumerate(args)]
        value, why = loss_mistakes(*leaves, beta)[index]
        want = torch.autograd.grad(value, leaves[:2])
        if all(close(g, w, **SAME) for g, w in zip(grads, want)):
            return why
    return None


def call_loss(submission, args, beta, where):
    out = submission.dpo_loss(*args, beta)
    expect(out is not None, "dpo_loss returned None: did you forget `return`?")
    expect(
        isinstance(out, tuple) and len(out) == 3,
        "dpo_loss returns a tuple of three: (loss, chosen_reward, rejected_reward)",
        f"{where}: got {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""),
    )
    loss, chosen, rejected = out
    B = args[0].shape[0]
    expect(isinstance(loss, torch.Tensor) and loss.dim() == 0, "the loss is a 0-dim tensor: the mean over the pairs", f"{where}: got {_describe(loss)}")
    for name, r in (("chosen_reward", chosen), ("rejected_reward", rejected)):
        expect(isinstance(r, torch.Tensor) and r.shape == (B,), f"{name} is a (B,) tensor: one reward per pair", f"{where}: got {_describe(r)}")
    return loss, chosen, rejected


def _describe(x):
    return f"tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__


def expect_loss(submission, reference, args, beta, where, rtol=RTOL, atol=ATOL):
    """dpo_loss on args matches the reference: the loss, then both rewards; a mistake is named from the values."""
    want = reference.dpo_loss(*args, beta)
    got = call_loss(submission, tuple(a.clone() for a in args), beta, where)
    return expect_loss_values(got, want, args, beta, where, rtol, atol)


def expect_loss_values(got, want, args, beta, where, rtol=RTOL, atol=ATOL):
    """The learner's (loss, chosen_reward, rejected_reward) against the reference's on `args`."""
    (got_loss, got_c, got_r), (want_loss, want_c, want_r) = got, want
    pc, pr, rc, rr = (a.detach().double() for a in args)
    if close(got_c, want_r, rtol, atol) and close(got_r, want_c, rtol, atol) and not close(got_c, want_c, rtol, atol):
        raise Misconception(SWAPPED, f"{where}: chosen_reward {_rows(got_c, want_c)}")
    if not close(got_loss, want_loss, rtol, atol):
        why = next((w for v, w in loss_mistakes(pc, pr, rc, rr, beta) if close(got_loss, v, **SAME)), None)
        raise Misconception(
            why or f"the loss differs from -logsigmoid(beta·margin).mean() ({where})",
            f"{where}: loss {float(got_loss):.8g}, expected {float(want_loss):.8g}",
        )
    for name, got, want in (("chosen_reward", got_c, want_c), ("rejected_reward", got_r, want_r)):
        if not close(got, want, rtol, atol):
            pi, ref = (pc, rc) if name == "chosen_reward" else (pr, rr)
            candidates = ((pi - ref, REWARD_NO_BETA), (beta * pi, REWARD_NO_REF), (want_r if name == "chosen_reward" else want_c, REWARD_SWAPPED))
            why = next((w for v, w in candidates if close(got, v, **SAME)), None)
            raise Misconception(why or f"{name} differs from beta·(pi - ref) ({where})", f"{where}: {_rows(got, want)}")
    expect_close(got_loss.detach(), want_loss, f"the loss differs from the reference ({where})", rtol=rtol, atol=atol)
    expect_close(got_c.detach(), want_c, f"chosen_reward differs from the reference ({where})", rtol=rtol, atol=atol)
    expect_close(got_r.detach(), want_r, f"rejected_reward differs from the reference ({where})", rtol=rtol, atol=atol)
    return got_loss, got_c, got_r


def test_loss_and_rewards_match_hand_examples(submission, reference):
    """dpo_loss gives -logsigmoid(beta·margin).mean() and the rewards beta·(pi - ref), for B = 1 and more and several beta"""
    hand = tuple(torch.tensor(v, dtype=torch.float64) for v in ([-12.0, -7.5, -20.0], [-14.0, -7.0, -19.0], [-13.0, -8.0, -18.5], [-13.5, -7.2, -20.5]))
    expect_self_check_value(reference, hand)
    for args, beta, where in (
        (hand, 0.1, "3 pairs set by hand, beta = 0.1"),
        (logps(1, seed=51), 0.5, "B = 1, beta = 0.5"),
        (logps(7, seed=52), 2.0, "B = 7, beta = 2"),
        (logps(16, seed=53), 0.03, "B = 16, beta = 0.03"),
    ):
        expect_loss(submission, reference, args, beta, where)


def expect_self_check_value(reference, hand):
    """The reference gives the value worked out by hand for the pairs above (a premise of this grader)."""
    margins = [((a - c) - (b - d)) for a, b, c, d in zip(*(t.tolist() for t in hand))]  # 3.5, -0.8, -2.5
    by_hand = sum(math.log1p(math.exp(-0.1 * m)) for m in margins) / 3
    got = float(reference.dpo_loss(*hand, 0.1)[0])
    expect_self_check(round(got, 12), round(by_hand, 12), "the reference's DPO loss on the hand example")


def test_gradients_reach_the_policy_only(submission, reference):
    """backward gives pi_chosen and pi_rejected the reference's gradients, and the reference's log-probs none"""
    for B, beta, seed in ((5, 0.1, 61), (1, 1.0, 62)):
        base = logps(B, seed=seed)
        want_leaves = [t.clone().requires_grad_(True) for t in base]
        reference.dpo_loss(*want_leaves, beta)[0].backward()
        leaves = [t.clone().requires_grad_(True) for t in base]
        loss, chosen, rejected = call_loss(submission, leaves, beta, f"B = {B}, beta = {beta}")
        expect(
            not chosen.requires_grad and not rejected.requires_grad,
            REWARDS_GRAD,
            f"requires_grad: chosen_reward {chosen.requires_grad}, rejected_reward {rejected.requires_grad}",
        )
        expect(loss.requires_grad, "the loss carries no graph: it must be differentiable in pi_chosen and pi_rejected")
        loss.backward()
        for name, leaf in zip(DPO_ARGS[2:], leaves[2:]):
            expect(leaf.grad is None or not bool(leaf.grad.any()), REF_GRAD, f"{name}.grad = {leaf.grad}")
        for name, leaf, want in zip(DPO_ARGS[:2], leaves[:2], want_leaves[:2]):
            expect(leaf.grad is not None, f"{name} got no gradient: the loss must be differentiable in it")
        grads = [leaf.grad for leaf in leaves[:2]]
        if not all(close(g, w.grad, RTOL, ATOL) for g, w in zip(grads, want_leaves)):
            why = diagnose_gradients(grads, base, beta)
            raise Misconception(
                why or "the gradients differ from the reference's: d loss / d pi_chosen = -beta·sigmoid(-beta·margin)/B",
                f"B = {B}, beta = {beta}: d loss / d pi_chosen {_rows(grads[0], want_leaves[0].grad)}",
            )
        for name, g, want in zip(DPO_ARGS[:2], grads, want_leaves[:2]):
            expect_close(g, want.grad, f"d loss / d {name} differs from the reference's")


def test_large_margins_stay_finite(submission, reference):
    """margins of ±9000 (beta·margin to ±900) give finite losses and gradients in float32 and float64"""
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).removeprefix("torch.")
        pc = torch.tensor([-10.0, -9000.0, -10.0, -3000.0, -40.0], dtype=dtype)
        pr = torch.tensor([-9000.0, -10.0, -10.0, -20.0, -41.0], dtype=dtype)
        rc = torch.tensor([-11.0, -12.0, -10.0, -25.0, -40.0], dtype=dtype)
        rr = torch.tensor([-12.0, -11.0, -10.0, -26.0, -40.0], dtype=dtype)
        beta = 0.1
        where = f"{name}, margins {[round(v) for v in ((pc - rc) - (pr - rr)).tolist()]}, beta = 0.1"
        want = [t.clone().requires_grad_(True) for t in (pc, pr)]
        want_loss = reference.dpo_loss(want[0], want[1], rc, rr, beta)[0]
        want_loss.backward()
        leaves = [t.clone().requires_grad_(True) for t in (pc, pr)]
        loss, _, _ = call_loss(submission, (leaves[0], leaves[1], rc.clone(), rr.clone()), beta, where)
        expect(bool(torch.isfinite(loss.detach())), LOG_OF_SIGMOID, f"{where}: loss {float(loss)}")
        expect_loss(submission, reference, (pc, pr, rc, rr), beta, where, rtol=RTOL32, atol=ATOL32)
        loss.backward()
        for arg, leaf, w in zip(DPO_ARGS, leaves, want):
            expect(leaf.grad is not None and bool(torch.isfinite(leaf.grad).all()), LOG_OF_SIGMOID, f"{where}: d loss / d {arg} = {leaf.grad}")
            expect_close(leaf.grad, w.grad, f"d loss / d {arg} differs from the reference's at large margins ({where})", rtol=RTOL32, atol=1e-7)


def test_inputs_unchanged_and_dtype_kept(submission, reference):
    """dpo_loss leaves its four inputs unchanged, returns their dtype (float32 or float64), and repeats itself"""
    for dtype in (torch.float32, torch.float64):
        args = logps(6, seed=71, dtype=dtype)
        want = reference.dpo_loss(*args, 0.2)
        copies = tuple(a.clone() for a in args)
        first = call_loss(submission, copies, 0.2, str(dtype))
        changed = [n for n, a, c in zip(DPO_ARGS, args, copies) if not _equal(a, c)]
        expect(
            not changed,
            "dpo_loss changed its inputs (an in-place operation such as pi_chosen -= ref_chosen): compute the "
            "log-ratios as new tensors",
            f"changed: {changed}",
        )
        second = call_loss(submission, copies, 0.2, str(dtype))
        for out, which in ((first, "first call"), (second, "second call")):
            expect(
                all(t.dtype == dtype for t in out),
                f"dpo_loss returns its inputs' dtype: {dtype} in, {dtype} out (no .float() or .double())",
                f"got {[str(t.dtype) for t in out]}",
            )
            rtol, atol = (RTOL, ATOL) if dtype == torch.float64 else (RTOL32, 1e-7)
            expect_loss_values(out, want, args, 0.2, f"{str(dtype).removeprefix('torch.')}, {which}", rtol, atol)


# Generated inputs: a fixed, bounded sample (derandomized, no example database), so every run sees the same.
PROPERTY = settings(
    max_examples=30, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
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


def test_generated_log_probs_match(submission, reference, examples_independent_of_your_code):
    """on generated batches (B from 1 to 32), beta from 0.01 to 10 and log-probs of 0.1 to 300 nats, dpo_loss matches"""

    @PROPERTY
    @given(B=st.integers(1, 32), log_beta=st.floats(-2, 1), log_scale=st.floats(-1, 2.5), seed=st.integers(0, 2**16))
    def matches(B, log_beta, log_scale, seed):
        beta = 10**log_beta
        args = logps(B, seed=seed, scale=10**log_scale)
        expect_loss(submission, reference, args, beta, f"generated: B = {B}, beta = {beta:.4g}, log-probs ~{10 ** log_scale:.3g}")

    matches()
