"""The GRPO lesson (p4.grpo): what tests/test_graders.py does not already prove.

The task's pieces in mentor.lab.rewards give their hand-worked values; the reference's advantages,
loss and gradient equal hand computations; the graders' diagnosis helpers reproduce the reference
when no mistake is written out and tell each written-out mistake apart from it; a loop that never
learns fails the reward's rise with its figures, and a crash in the learner's loss names their line;
the drawn answers of the reasoning checks agree with the reference's own functions, their declared
wrong answers are rejected, and the rubric accepts its explanation but not a vague one.
"""

import functools
import importlib.util
import math
import tempfile
from pathlib import Path

import pytest
import torch

from mentor.authoring import compose_submission, grade_file
from mentor.checks import evaluate, expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import draw
from mentor.lab.rewards import BOS, EOS, PAD, TOKENIZER, completion_mask, letter_reward, make_prompts, starting_policy
from mentor.paths import GRADERS_DIR, content_root

COURSE = load_course(content_root())
OBJECTIVE, TRAIN = "p4.grpo.objective", "p4.grpo.train"
pytestmark = pytest.mark.slow  # graders that train models, run many times over: the slow sweep


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def reference():
    return load(COURSE.content_root / COURSE.step(OBJECTIVE).solution, "grpo_reference")


@functools.cache
def grader(name: str):
    return load(GRADERS_DIR / "phase4" / f"test_grpo_{name}.py", f"grpo_grader_{name}")


def ids(text: str) -> list[int]:
    """`text` with `$` for EOS and `_` for PAD, as token ids."""
    return [EOS if c == "$" else PAD if c == "_" else TOKENIZER.stoi[c] for c in text]


# -- the task -------------------------------------------------------------------------------------
def test_the_tokenizer_round_trips_and_stops_at_eos():
    assert (PAD, BOS, EOS) == (0, 1, 2) and TOKENIZER.vocab_size == 3 + len(TOKENIZER.chars)
    assert TOKENIZER.encode("c=", bos=True) == [BOS, TOKENIZER.stoi["c"], TOKENIZER.stoi["="]]
    assert TOKENIZER.decode(TOKENIZER.encode("abc", bos=True, eos=True) + ids("zz")) == "abc"


def test_letter_reward_gives_its_partial_credit_by_hand():
    prompts = make_prompts(6, 0)
    prompts[:, 1] = TOKENIZER.stoi["c"]
    completions = torch.tensor([ids(s) for s in ("ccc$__", "cab$__", "$_____", "cccccc", "abab$_", "c$cc$_")])
    before = completions.clone()
    want = [0.25 + 0.75, 0.25 + 0.75 / 3, 0.25, 0.75, 0.25, 0.25 + 0.75]  # the letters before the first EOS count
    assert letter_reward(prompts, completions).tolist() == pytest.approx(want, abs=1e-6)
    assert letter_reward(prompts, completions).dtype == torch.float32 and torch.equal(completions, before)


def test_completion_mask_keeps_each_completion_up_to_its_first_eos():
    mask = completion_mask(torch.tensor([ids("ab$__"), ids("abcab"), ids("$$___"), ids("a_$a$")]))
    assert mask.tolist() == [
        [True, True, True, False, False],
        [True] * 5,
        [True, False, False, False, False],
        [True, True, True, False, False],  # a PAD drawn before EOS is a token like any other
    ]


def test_prompts_are_seeded_and_name_a_task_letter():
    a, b = make_prompts(16, 3), make_prompts(16, 3)
    assert torch.equal(a, b) and not torch.equal(a, make_prompts(16, 4))
    assert a.shape == (16, 3) and (a[:, 0] == BOS).all() and (a[:, 2] == TOKENIZER.stoi["="]).all()
    assert {TOKENIZER.itos[int(i)] for i in a[:, 1]} <= set("abcdefgh")


def test_the_starting_policy_is_a_fresh_copy_that_does_the_task_a_little():
    state = torch.get_rng_state()
    first = starting_policy()
    assert torch.equal(torch.get_rng_state(), state), "building or loading the policy must leave the global random state alone"
    with torch.no_grad():
        first.lm_head.weight.add_(1.0)
    second = starting_policy()
    assert not second.training and second.config.dropout > 0
    assert not torch.equal(first.lm_head.weight, second.lm_head.weight), "each call gets its own copy"
    prompts = make_prompts(32, 1)
    completions, _ = reference().sample(second, prompts, 8, 6, 1.0, torch.Generator().manual_seed(0))
    mean = float(letter_reward(prompts.repeat_interleave(8, dim=0), completions).mean())
    assert 0.35 < mean < 0.7, mean  # room for RL to raise it


# -- the reference --------------------------------------------------------------------------------
def test_group_advantages_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3], [2.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    got = reference().group_advantages(rewards, eps=1e-4)
    # row 0: mean 0.5, population std sqrt(0.125); row 2: mean 0.5, std sqrt((2.25 + 3 · 0.25) / 4) = sqrt(0.75)
    s0, s2 = math.sqrt(0.125), math.sqrt(0.75)
    want = [[0.5 / (s0 + 1e-4), -0.5 / (s0 + 1e-4), 0, 0], [0, 0, 0, 0], [1.5 / (s2 + 1e-4)] + [-0.5 / (s2 + 1e-4)] * 3]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-12)


def test_grpo_loss_by_hand_and_its_gradient_at_the_first_epoch():
    # one completion of two valid tokens and a padded one, A = 0.5: ratios 1.5 (clip active) and 0.5
    old = torch.tensor([[-1.0, -1.0, -1.0]], dtype=torch.float64)
    new = old + torch.tensor([[math.log(1.5), math.log(0.5), 1.0]], dtype=torch.float64)
    ref = new + torch.tensor([[math.log(3.0), 0.0, 5.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    loss, stats = reference().grpo_loss(new, old, ref, torch.tensor([0.5], dtype=torch.float64), mask, 0.2, 0.1)
    k3 = 3.0 - math.log(3.0) - 1.0
    assert float(loss) == pytest.approx((-1.2 * 0.5 - 0.5 * 0.5 + 0.1 * k3) / 2, abs=1e-12)
    assert stats == pytest.approx({"clip_fraction": 0.5, "ratio": 1.0, "kl": k3 / 2}, abs=1e-12)
    # at ratio 1 the surrogate's gradient is REINFORCE's: -A / (valid tokens) on each valid token, 0 on padding
    new = old.clone().requires_grad_(True)
    loss, stats = reference().grpo_loss(new, old, old, torch.tensor([0.5], dtype=torch.float64), mask, 0.2, 0.1)
    loss.backward()
    assert new.grad[0].tolist() == pytest.approx([-0.25, -0.25, 0.0], abs=1e-12) and stats["kl"] == 0.0


def test_sample_records_what_one_forward_would_give():
    model, prompts = starting_policy(), make_prompts(4, 2)
    completions, logprobs = reference().sample(model, prompts, 5, 6, 0.8, torch.Generator().manual_seed(3))
    mask = completion_mask(completions)
    assert ((completions == PAD) | mask).all() and (logprobs[~mask] == 0).all()
    with torch.no_grad():
        full = reference().completion_logprobs(model, prompts.repeat_interleave(5, dim=0), completions, 0.8)
    assert torch.allclose(logprobs[mask], full[mask], rtol=1e-4, atol=1e-5)


# -- the graders' diagnosis helpers -------------------------------------------------------------------
def test_the_simulated_loss_is_the_reference_and_every_mistake_moves_it():
    g = grader("objective")
    for seed in (1, 2, 3):
        b = g.loss_batch(seed=seed)
        want = float(reference().grpo_loss(*(b[k] for k in ("logprobs_new", "logprobs_old", "ref_logprobs", "advantages", "mask")), 0.2, 0.1)[0])
        assert float(g.simulated_loss(b, 0.2, 0.1)) == pytest.approx(want, rel=1e-12)
        for flaw in g.LOSS_MISTAKES:
            assert not math.isclose(float(g.simulated_loss(b, 0.2, 0.1, flaw)), want, rel_tol=1e-4), (seed, flaw)


def test_the_simulated_advantages_and_draws_are_the_reference_and_each_mistake_differs():
    g = grader("objective")
    rewards = torch.rand(5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = reference().group_advantages(rewards)
    assert torch.allclose(g.advantages_with(rewards, 1e-4), want, 1e-12, 1e-12)
    for flaw in g.ADVANTAGE_MISTAKES:
        assert not torch.allclose(g.advantages_with(rewards, 1e-4, flaw), want, 1e-4, 1e-6), flaw
    model, prompts = starting_policy(), make_prompts(3, 11)
    tokens, _ = reference().sample(model, prompts, 4, 6, 0.7, torch.Generator().manual_seed(11))
    assert torch.equal(g.simulate_tokens(model, prompts, 4, 6, 0.7, 11), tokens)
    for flaw in g.TOKEN_MISTAKES:
        assert not torch.equal(g.simulate_tokens(model, prompts, 4, 6, 0.7, 11, flaw), tokens), flaw


def test_the_simulated_loop_is_the_reference_and_each_mistake_changes_its_history():
    g = grader("train")
    policy, frozen = starting_policy(), starting_policy()
    want = reference().grpo_train(policy, frozen, g.PROMPTS, letter_reward, 2, **{k: v for k, v in g.RUN.items() if k != "iterations"})
    assert g.close_history(g.simulate_loop(reference()), want, 2, dict(rtol=1e-9, atol=1e-12))
    for flaw in g.LOOP_MISTAKES:
        assert not g.close_history(g.simulate_loop(reference(), flaw), want, 2), flaw


def test_the_log_prob_mistakes_are_told_apart():
    g = grader("train")
    model = g.random_model(1)
    prompts, completions = g.completions_batch(6, 3, 6, 2)
    want = reference().completion_logprobs(model, prompts, completions, 0.5)
    assert torch.allclose(g.logprobs_with(model, prompts, completions, 0.5), want, 1e-12, 1e-12)
    for flaw in g.LOGPROB_MISTAKES:
        assert not torch.allclose(g.logprobs_with(model, prompts, completions, 0.5, flaw), want, 1e-4, 1e-6), flaw


# -- graded files ---------------------------------------------------------------------------------
NEVER_STEPS = '''
def grpo_train(policy, reference, prompts, reward_fn, iterations, group_size, epochs,
               clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0):
    rows = prompts.repeat_interleave(group_size, dim=0)
    history = []
    for it in range(iterations):
        completions, old = sample(policy, prompts, group_size, max_new_tokens, temperature,
                                  torch.Generator().manual_seed(seed + it))
        rewards = reward_fn(rows, completions)
        record = {"reward": rewards.mean().item(), "loss": [], "ratio": [], "clip_fraction": [], "kl": []}
        for _ in range(epochs):
            for key in ("loss", "ratio", "clip_fraction", "kl"):
                record[key].append(1.0 if key == "ratio" else 0.0)
        history.append(record)
    return history
'''

CRASHING_LOSS = '''
def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    ratio = torch.exp(logprobs_new - logprobs_old.detach())
    surrogate = -ratio * advantages  # (N, L) times (N,): the advantage needs its token axis
    return surrogate.mean(), {}
'''


def graded(step_id: str, appended: str):
    step = COURSE.step(step_id)
    with tempfile.TemporaryDirectory(prefix="mentor-grpo-") as tmp:
        return grade_file(COURSE, step, compose_submission(COURSE, step, Path(tmp), appended), Path(tmp))


def test_a_loop_that_never_learns_fails_the_rise_with_its_figures():
    result = graded(TRAIN, NEVER_STEPS)
    rise = next(t for t in result.tests if t.name == "test_the_mean_reward_rises")
    assert rise.outcome == "failed" and "does not rise enough" in rise.message, rise
    assert "your mean rewards: [" in rise.diff, rise.diff
    early = next(t for t in result.tests if t.name == "test_early_trajectory_matches_the_reference")
    assert early.outcome == "failed" and "iteration 0, epoch 0" in early.diff, early


def test_a_crash_in_the_loss_names_the_learners_line():
    result = graded(OBJECTIVE, CRASHING_LOSS)
    crashed = [t for t in result.tests if t.kind == "exception" and t.name.startswith("test_grpo_loss")]
    assert crashed, [(t.name, t.kind, t.message) for t in result.tests]
    assert any(t.where.rpartition(":")[0].endswith("grpo.py") and "-ratio * advantages" in t.line for t in crashed)


# -- the reasoning checks ---------------------------------------------------------------------------
def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def drawn(step_id: str, check_id: str, learners=8):
    c = check(step_id, check_id)
    return [(c, d) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def one_token_loss(ratio, A, eps, ref_minus_new=0.0, kl_coef=0.0):
    """The reference's loss on a single valid token whose old log-prob is -1."""
    old = torch.tensor([[-1.0]], dtype=torch.float64)
    new = old + math.log(ratio)
    loss, stats = reference().grpo_loss(new, old, new + ref_minus_new, torch.tensor([A], dtype=torch.float64), torch.tensor([[True]]), eps, kl_coef)
    return float(loss), stats


def test_the_numeric_answers_follow_from_the_reference():
    worked = {
        (OBJECTIVE, "surrogate-token"): lambda r, A, eps: one_token_loss(r, A, eps)[0],
        (OBJECTIVE, "k3-token"): lambda N, R: one_token_loss(1.0, 0.0, 0.2, R - N, 1.0)[1]["kl"],
        (TRAIN, "first-epoch-loss"): lambda A, x, b: one_token_loss(1.0, A, 0.2, x, b)[0],
        (TRAIN, "reference-bytes"): lambda N: (4 + 4 + 8) * N * 10**6 + 2 * N * 10**6,
    }
    for (step_id, check_id), work in worked.items():
        for c, d in drawn(step_id, check_id):
            want = work(**d.params)
            assert math.isclose(float(expected_answer(c, d)), want, rel_tol=1e-9, abs_tol=1e-12), (check_id, d.params)
            assert is_correct(c, repr(want), d), (check_id, d.params)
    for c, d in drawn(OBJECTIVE, "group-advantages"):
        rewards = torch.tensor([[1.0, d.params["b"], d.params["c"], d.params["d"]]], dtype=torch.float64)
        want = reference().group_advantages(rewards, eps=0.0)[0].tolist()
        assert expected_answer(c, d) == pytest.approx(want, abs=1e-9)
        assert is_correct(c, "(" + ", ".join(f"{x:.3f}" for x in want) + ")", d), d.params


def test_the_declared_wrong_answers_are_rejected_and_every_wrong_option_says_why():
    for step_id in (OBJECTIVE, TRAIN):
        for c in COURSE.step(step_id).checks:
            for _, d in drawn(step_id, c.id, learners=4) if c.params else []:
                for wrong in c.answer.wrong or []:
                    assert not is_correct(c, repr(evaluate(wrong.formula, d.params)), d), (c.id, d.params, wrong.formula)
            right = ord(c.answer.choice) - ord("a") if c.answer.choice else None
            assert all(o.why for i, o in enumerate(c.options) if i != right), c.id


def test_the_rubric_accepts_its_own_explanation_and_rejects_a_vague_answer():
    c = check(TRAIN, "why-kl")
    assert is_correct(c, c.explain)
    assert is_correct(c, "It keeps the policy close to the reference, so it cannot exploit the reward rule with degenerate text.")
    assert not is_correct(c, "It makes the training more stable.")
