"""The DPO lesson (p4.dpo): what tests/test_graders.py does not already prove.

The generated preference pairs and their tokens keep their promises (chosen right, rejected a near miss
of the named kind, labels only on the response); the supervised starting model is handed out as fresh,
independent copies; the reference gives the values worked out by hand (a sum over the response, log 2 at
the first step, finite for any margin, nothing reaching the frozen side); a short reference run starts
at −log σ(0) and separates the pairs; the drawn answers of the reasoning checks agree with what the
reference computes, their declared wrong answers are rejected, and each rubric accepts its own
explanation but not a vague one.
"""

import functools
import importlib.util
import math

import pytest
import torch
import torch.nn as nn

from mentor.checks import evaluate, expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import draw
from mentor.lab.preferences import (
    IGNORE,
    LETTERS,
    MAX_LETTERS,
    MIN_LETTERS,
    REJECTIONS,
    CharTokenizer,
    collate,
    is_correct as sorted_right,
    make_pairs,
    sft_model,
)
from mentor.paths import content_root

COURSE = load_course(content_root())
LOSS, TRAIN = "p4.dpo.loss", "p4.dpo.train"
TOKENIZER = CharTokenizer()


@functools.cache
def reference():
    path = COURSE.content_root / "solutions" / "phase4" / "dpo.py"
    spec = importlib.util.spec_from_file_location("dpo_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FixedLogits(nn.Module):
    """A model whose logits are given: `model(ids)` returns (logits[:, :T], None) as the course's GPT does."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, idx):
        return self.logits[:, : idx.shape[1]], None


# -- mentor.lab.preferences -----------------------------------------------------------------------
def test_pairs_are_seeded_and_each_rejection_is_the_near_miss_it_names():
    pairs = make_pairs(400, seed=3)
    assert pairs == make_pairs(400, seed=3) and pairs != make_pairs(400, seed=4)
    assert [p.kind for p in pairs[:8]] == [*REJECTIONS, *REJECTIONS]
    for p in pairs:
        assert MIN_LETTERS <= len(p.prompt) <= MAX_LETTERS and len(set(p.prompt)) == len(p.prompt)
        assert set(p.prompt) <= set(LETTERS)
        assert sorted_right(p.prompt, p.chosen) and not sorted_right(p.prompt, p.rejected)
        if p.kind == "swap":
            assert sorted(p.rejected) == sorted(p.chosen)
        elif p.kind == "drop":
            assert len(p.rejected) == len(p.chosen) - 1 and set(p.rejected) < set(p.chosen)
        elif p.kind == "double":
            assert len(p.rejected) == len(p.chosen) + 1 and set(p.rejected) == set(p.chosen)
        else:
            assert p.rejected == p.prompt


def test_an_example_scores_the_response_and_the_end_only():
    ids, labels = TOKENIZER.example("cab", "abc")
    assert TOKENIZER.decode(ids) == "<bos>cab=abc<eos>"
    assert labels == [IGNORE] * 5 + [*TOKENIZER.encode("abc"), TOKENIZER.eos_id]
    assert TOKENIZER.decode(TOKENIZER.encode(LETTERS + "=")) == LETTERS + "="


def test_collate_right_pads_all_four_tensors_to_the_longest_sequence():
    pairs = make_pairs(8, seed=0)
    batch = collate(pairs)
    longest = max(len(TOKENIZER.example(p.prompt, r)[0]) for p in pairs for r in (p.chosen, p.rejected))
    assert len(batch) == 8
    for ids, labels, responses in (
        (batch.chosen_ids, batch.chosen_labels, [p.chosen for p in pairs]),
        (batch.rejected_ids, batch.rejected_labels, [p.rejected for p in pairs]),
    ):
        assert ids.shape == labels.shape == (8, longest) and ids.dtype == labels.dtype == torch.long
        for row, (p, response) in enumerate(zip(pairs, responses)):
            want_ids, want_labels = TOKENIZER.example(p.prompt, response)
            n = len(want_ids)
            assert ids[row, :n].tolist() == want_ids and labels[row, :n].tolist() == want_labels
            assert (ids[row, n:] == TOKENIZER.pad_id).all() and (labels[row, n:] == IGNORE).all()


def test_the_supervised_model_comes_as_fresh_equal_and_independent_copies():
    a, b = sft_model(), sft_model()
    assert a.training and b.training
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q) and p.data_ptr() != q.data_ptr(), name
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert torch.equal(next(sft_model().parameters()), next(b.parameters()))
    assert sft_model(dropout=0.25).config.dropout == 0.25 and sft_model().config.dropout == 0.0


def test_the_supervised_model_prefers_the_chosen_responses_already():
    """It was trained on chosen responses, so it should score them above most rejected ones: the run then
    aligns a model that is close, not a random one."""
    ref = reference()
    batch = collate(make_pairs(64, seed=11))
    model = sft_model().eval()
    with torch.no_grad():
        chosen = ref.sequence_logprobs(model, batch.chosen_ids, batch.chosen_labels)
        rejected = ref.sequence_logprobs(model, batch.rejected_ids, batch.rejected_labels)
    assert (chosen > rejected).float().mean() > 0.6


# -- the reference, by hand -----------------------------------------------------------------------
def test_the_reference_sums_the_scored_tokens_with_logits_shifted_by_one():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 5, dtype=torch.float64)
    ids = torch.tensor([[0, 1, 2, 3, 4, 0], [4, 3, 2, 1, 0, 1]])
    labels = torch.tensor([[IGNORE, IGNORE, IGNORE, 3, 4, IGNORE], [IGNORE] * 6])
    got = reference().sequence_logprobs(FixedLogits(logits), ids, labels)
    logp = torch.log_softmax(logits, dim=-1)
    want = logp[0, 2, 3] + logp[0, 3, 4]  # labels at positions 3 and 4 are scored by logits at 2 and 3
    assert got.dtype == torch.float64 and got.shape == (2,)
    assert torch.allclose(got[0], want) and got[1] == 0.0  # a row with nothing scored gives 0


def test_the_reference_is_finite_for_tokens_of_probability_e_to_the_minus_1000():
    logits = torch.zeros(1, 3, 4)
    logits[0, :, 0] = 1000.0
    labels = torch.tensor([[IGNORE, 2, 3]])
    got = reference().sequence_logprobs(FixedLogits(logits), torch.zeros(1, 3, dtype=torch.long), labels)
    assert torch.isfinite(got).all() and math.isclose(got.item(), -2000.0, rel_tol=1e-6)


def test_the_first_step_loss_is_log_2_and_its_gradient_minus_beta_over_2B():
    B, beta = 8, 0.3
    pi_c, pi_r = torch.randn(B, dtype=torch.float64, requires_grad=True), torch.randn(B, dtype=torch.float64)
    ref_c, ref_r = pi_c.detach().clone().requires_grad_(), pi_r.clone().requires_grad_()
    pi_r.requires_grad_()
    loss, r_c, r_r = reference().dpo_loss(pi_c, pi_r, ref_c, ref_r, beta)
    loss.backward()
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-12)
    assert torch.allclose(pi_c.grad, torch.full((B,), -beta / (2 * B), dtype=torch.float64))
    assert torch.allclose(pi_r.grad, torch.full((B,), beta / (2 * B), dtype=torch.float64))
    assert ref_c.grad is None and ref_r.grad is None  # the reference is a constant
    assert not r_c.requires_grad and not r_r.requires_grad and (r_c == 0).all()


def test_the_loss_is_finite_and_linear_for_margins_of_thousands():
    pi_c, pi_r = torch.tensor([-9000.0, 0.0]), torch.tensor([0.0, -9000.0])
    zero = torch.zeros(2)
    loss, _, _ = reference().dpo_loss(pi_c, pi_r, zero, zero, 1.0)
    assert torch.isfinite(loss) and math.isclose(loss.item(), 9000.0 / 2, rel_tol=1e-6)


def test_a_short_reference_run_starts_at_minus_log_sigmoid_0_and_separates_the_pairs():
    ref = reference()
    policy = sft_model()
    frozen = ref.make_reference(policy)
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    history = ref.dpo_train(policy, frozen, collate(make_pairs(16, seed=5)), steps=20, beta=0.1, lr=3e-3, seed=0)
    assert math.isclose(history["loss"][0], math.log(2), rel_tol=1e-6) and history["margin"][0] == 0.0
    assert history["loss"][-1] < history["loss"][0] - 0.1
    assert history["margin"][-1] > 0.5 and history["accuracy"][-1] > 0.9
    assert all(torch.equal(v, frozen.state_dict()[k]) for k, v in before.items())
    assert not any(p.requires_grad for p in frozen.parameters()) and not frozen.training
    again = ref.dpo_train(sft_model(), ref.make_reference(sft_model()), collate(make_pairs(16, seed=5)), 20, 0.1, 3e-3, 0)
    assert again == history  # seeded: the same run twice


# -- the reasoning checks -------------------------------------------------------------------------
def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def drawn(step_id: str, check_id: str, learners=8):
    c = check(step_id, check_id)
    return [(c, d, float(expected_answer(c, d))) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def _loss_value(pc, pr, rc, rr, b):
    t = lambda v: torch.tensor([float(v)], dtype=torch.float64)  # noqa: E731
    return reference().dpo_loss(t(pc), t(pr), t(rc), t(rr), b)[0].item()


def _first_step_gradient(b, B):
    pi = torch.zeros(B, dtype=torch.float64, requires_grad=True)
    loss, _, _ = reference().dpo_loss(pi, torch.zeros(B, dtype=torch.float64), torch.zeros(B), torch.zeros(B), b)
    loss.backward()
    return pi.grad[0].item()


def _summed_logprob(n, p, k, q):
    """A model whose next-token distribution gives probability q to each prompt token and p to each
    response token, run through the reference's sequence_logprobs."""
    V, T = 4, 1 + k + n
    logits = torch.full((1, T, V), -math.inf, dtype=torch.float64)
    for t in range(T - 1):  # logits at t score the token at t + 1, which is id 1
        prob = q if t + 1 <= k else p
        logits[0, t, 1], logits[0, t, 2] = math.log(prob), math.log(1 - prob)
    logits[0, T - 1, 1] = 0.0
    ids = torch.ones(1, T, dtype=torch.long)
    labels = torch.tensor([[IGNORE] * (1 + k) + [1] * n])
    return reference().sequence_logprobs(FixedLogits(logits), ids, labels).item()


def test_the_numeric_answers_follow_from_the_reference():
    worked = {
        (LOSS, "loss-value"): _loss_value,
        (LOSS, "first-step-gradient"): _first_step_gradient,
        (LOSS, "summed-logprob"): _summed_logprob,
        (TRAIN, "optimal-ratio"): lambda d, b: math.exp(d / b),
        (TRAIN, "reference-memory"): lambda N: N * 1e9 * torch.finfo(torch.bfloat16).bits / 8,
    }
    for (step_id, check_id), work in worked.items():
        for c, d, expected in drawn(step_id, check_id):
            want = work(**{k: (int(v) if float(v).is_integer() else v) for k, v in d.params.items()})
            assert math.isclose(expected, want, rel_tol=1e-9, abs_tol=1e-12), (check_id, d.params)
            assert is_correct(c, repr(want), d), (check_id, d.params)


def test_the_classic_wrong_answers_are_rejected():
    for step_id in (LOSS, TRAIN):
        for c in COURSE.step(step_id).checks:
            for _, d, _ in drawn(step_id, c.id, learners=6) if c.params else []:
                for wrong in c.answer.wrong or []:
                    value = evaluate(wrong.formula, d.params) if wrong.formula else wrong.numeric
                    assert not is_correct(c, repr(value), d), (c.id, d.params, wrong.formula)
            if c.answer.choice:
                assert all(o.why for i, o in enumerate(c.options) if chr(ord("a") + i) != c.answer.choice)


@pytest.mark.parametrize(
    "step_id, check_id, good, vague",
    [
        (
            LOSS, "why-logsigmoid",
            "sigmoid of a very negative number underflows to 0 in float32 and log(0) is -inf; logsigmoid uses "
            "-softplus(-x), which never forms the tiny number",
            "logsigmoid is more accurate",
        ),
        (
            TRAIN, "what-beta-controls",
            "beta sets how far the policy may drift from the reference: a small beta lets it move far away, a "
            "large beta keeps it close",
            "beta makes training better",
        ),
    ],
)  # fmt: skip
def test_the_rubrics_accept_their_own_explanation_and_reject_a_vague_answer(step_id, check_id, good, vague):
    c = check(step_id, check_id)
    assert is_correct(c, c.explain) and is_correct(c, good)
    assert not is_correct(c, vague)
