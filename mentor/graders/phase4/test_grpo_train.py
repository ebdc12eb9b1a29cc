"""Grader: completion_logprobs and the GRPO loop, several epochs per batch, on the course's task.

The learner's grpo_train trains a fresh copy of the starting policy against a frozen copy, with the
reference's sample, group_advantages and grpo_loss in place of theirs (theirs from p4.grpo.objective
are checked first, by test_your_objective_agrees), so these tests grade the loop alone. One run of 12
iterations is watched as it goes (the modes and autograd of every forward, the reward function's
inputs, the reference's weights) and its history compared with the reference loop's at the same seed;
when the early values differ, the grader reruns the loop with the classic mistakes written out and
names the one that reproduces them.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal, expect_self_check
from mentor.lab.gpt import GPT, GPTConfig
from mentor.lab.rewards import EOS, PAD, completion_mask, letter_reward, make_prompts, starting_policy

_equal, _log_softmax = torch.equal, F.log_softmax  # bound before any learner code runs

PROMPTS = make_prompts(6, 7)  # six prompts, G = 8 completions each: 48 rows a batch (P != G: a view(G, P) shows)
RUN = dict(iterations=12, group_size=8, epochs=2, clip_eps=0.2, kl_coef=0.04, lr=3e-3, seed=0)
KEYS = ("reward", "loss", "ratio", "clip_fraction", "kl")
EPOCH_KEYS = KEYS[1:]
# At the first epoch the policy is the one that sampled: recorded token by token or recomputed in one
# forward, its log-probs differ by ~1e-6 (measured), so the mean ratio is 1 within 1e-5. Dropout during
# the loss, or old log-probs from another policy, move it by 1e-2 or more.
RATIO_ONE = 1e-4
# The early history of a correct loop follows the reference's to ~1e-5 over four iterations (measured:
# the log-probs of sample or of one forward, another way to write the loss); every mistake below moves a
# loss, ratio or KL of the first two iterations by 1e-3 or more.
EARLY, TRAJ = 4, dict(rtol=1e-3, atol=1e-4)
# The reference's mean reward rises from ~0.6 over the first three iterations to ~0.9 over the last three
# (measured over four seeds: +0.23 at least); a loop that learns nothing stays within noise, ~0.05.
RISE, FINAL = 0.15, 0.75


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is tiny: one thread is the fastest setting, and the same rounding on every machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reference_objective(submission, reference, monkeypatch):
    """While a loop test runs, your grpo_train calls the reference's sample, group_advantages and grpo_loss,
    so the test grades the loop; yours are graded by test_your_objective_agrees."""
    for name in ("sample", "group_advantages", "grpo_loss"):
        monkeypatch.setattr(submission, name, getattr(reference, name))


def gen(seed):
    return torch.Generator().manual_seed(seed)


# -- your pieces from p4.grpo.objective -------------------------------------------------------------
def test_your_objective_agrees(submission, reference):
    """the sample, group_advantages and grpo_loss your loop builds on (p4.grpo.objective) match the reference"""
    meanwhile = (
        "Meanwhile the other tests of this step run your grpo_train with the reference's sample, group_advantages "
        "and grpo_loss."
    )
    model, prompts = starting_policy(), make_prompts(3, 5)
    rewards = torch.tensor([[1.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    g = gen(5)
    new = -torch.rand(6, 5, generator=g, dtype=torch.float64)
    old, ref = new + 0.3 * torch.randn(6, 5, generator=g, dtype=torch.float64), new - 0.2
    adv, mask = torch.randn(6, generator=g, dtype=torch.float64), torch.arange(5) < torch.tensor([5, 1, 3, 4, 2, 5])[:, None]

    def agree(name, run):
        try:
            ok = run()
            detail = "different values"
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of an earlier step reads the same way
            ok, detail = False, f"it raised {type(e).__name__}: {e}"
        expect(
            ok,
            f"your {name} from p4.grpo.objective disagrees with the reference: fix it first (mentor check "
            f"p4.grpo.objective). {meanwhile}",
            detail,
        )

    def same_sample():
        got, want = submission.sample(model, prompts, 4, 6, 1.0, gen(6)), reference.sample(model, prompts, 4, 6, 1.0, gen(6))
        return _equal(got[0], want[0]) and torch.allclose(got[1].double(), want[1].double(), 1e-4, 1e-5)

    def same_loss():
        got, want = (m.grpo_loss(new, old, ref, adv, mask, 0.2, 0.1) for m in (submission, reference))
        return torch.allclose(got[0], want[0], 1e-9, 1e-12) and all(
            math.isclose(got[1][k], want[1][k], rel_tol=1e-9, abs_tol=1e-12) for k in want[1]
        )

    agree("sample", same_sample)
    agree("group_advantages", lambda: torch.allclose(submission.group_advantages(rewards), reference.group_advantages(rewards), 1e-9, 1e-12))
    agree("grpo_loss", same_loss)


# -- completion_logprobs ----------------------------------------------------------------------------
SMALL = dict(vocab_size=30, block_size=16, d_model=32, n_layers=2, n_heads=2)


def random_model(seed=0):
    """A GPT in float64 with every weight random (scale 0.3) but the LayerNorms: far from uniform, so that
    a shifted position or a missing temperature shows in every log-prob."""
    with torch.random.fork_rng(devices=[]):  # GPT's own init draws from the global state: leave it as it was
        model = GPT(GPTConfig(**SMALL)).double().eval()
    g = gen(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.split(".")[-2].startswith("ln"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def completions_batch(N, Tp, L, seed):
    """(prompt rows (N, Tp), completions (N, L)): random tokens, each row ended by EOS somewhere or not at all, PAD after."""
    g = gen(seed)
    prompts = torch.randint(3, SMALL["vocab_size"], (N, Tp), generator=g)
    completions = torch.randint(3, SMALL["vocab_size"], (N, L), generator=g)
    ends = torch.randint(0, L + 2, (N,), generator=g)  # >= L: never ended
    for i, e in enumerate(ends.tolist()):
        if e < L:
            completions[i, e], completions[i, e + 1 :] = EOS, PAD
    return prompts, completions


@torch.no_grad()
def logprobs_with(model, prompts, completions, T, flaw=""):
    """completion_logprobs with one classic mistake written out (flaw "" for none)."""
    Tp, L = prompts.size(1), completions.size(1)
    if flaw == "without_prompt":
        logits = model(completions)[0]
    else:
        logits = model(torch.cat([prompts, completions], dim=1))[0]
        logits = logits[:, -L:] if flaw == "shifted" else logits[:, Tp - 1 : -1]
    logp = _log_softmax(logits / (1.0 if flaw == "no_temperature" else T), dim=-1)
    out = logp.gather(-1, completions[..., None]).squeeze(-1)
    return out.exp() if flaw == "probabilities" else out


LOGPROB_MISTAKES = {
    "shifted": (
        "the log-probs are read one position too late: the logits at position t predict token t + 1, so the "
        "completion's tokens are predicted by positions Tp - 1 .. Tp + L - 2, logits[:, Tp - 1 : -1]"
    ),
    "without_prompt": (
        "the forward runs over the completion alone: each token's probability depends on its prompt, so run the "
        "model on torch.cat([prompt_ids, completions], dim=1)"
    ),
    "no_temperature": "the temperature is ignored: log softmax(logits / temperature), the distribution sample draws from",
    "probabilities": "these are probabilities: return log-probabilities, log_softmax(...) gathered at each token",
}


def test_completion_logprobs_match_the_reference(submission, reference):
    """the log-prob of every completion token given its prompt and the tokens before it, at temperature 1 and not, from one forward"""
    model = random_model(1)
    for N, Tp, L, T, seed in ((6, 3, 6, 1.0, 2), (4, 3, 5, 0.5, 3), (1, 1, 1, 1.0, 4), (3, 5, 8, 2.0, 5)):
        prompts, completions = completions_batch(N, Tp, L, seed)
        want = logprobs_with(model, prompts, completions, T)
        expect_self_check(bool(torch.allclose(reference.completion_logprobs(model, prompts, completions, T), want, 1e-12, 1e-12)), True, "the reference's log-probs")
        before = (prompts.clone(), completions.clone())
        with torch.no_grad():
            got = submission.completion_logprobs(model, prompts, completions, T)
        where = f"N={N}, Tp={Tp}, L={L}, temperature={T}"
        expect(_equal(prompts, before[0]) and _equal(completions, before[1]), "completion_logprobs changed its inputs", where)
        expect(isinstance(got, torch.Tensor), "completion_logprobs returns a tensor", f"{where}: got {type(got).__name__}")
        expect_equal(list(got.shape), [N, L], "completion_logprobs returns (N, L): one log-prob per completion token", where)
        if not torch.allclose(got.double(), want, 1e-9, 1e-12):
            for flaw, why in LOGPROB_MISTAKES.items():
                if (flaw != "no_temperature" or T != 1.0) and torch.allclose(got.double(), logprobs_with(model, prompts, completions, T, flaw), 1e-7, 1e-9):
                    raise Misconception(why, f"{where}: row 0: got {_r(got[0])}\n expected {_r(want[0])}")
            raise Misconception(
                "the log-probs are not log softmax(logits / temperature) of the positions that predict each completion token",
                f"{where}: row 0: got {_r(got[0])}\n expected {_r(want[0])}",
            )
        expect_close(got, want, f"the log-probs differ from the reference's ({where})", rtol=1e-9, atol=1e-12)


def _r(row):
    return [round(x, 5) for x in row.double().tolist()]


def test_completion_logprobs_carry_the_gradient(submission, reference):
    """with autograd on, the log-probs carry the gradient to every weight of the model: backward() gives the reference's gradients"""
    prompts, completions = completions_batch(5, 3, 6, 7)
    mask = completion_mask(completions)
    grads = []
    for module in (reference, submission):
        model = random_model(8)
        model.train(False)
        out = module.completion_logprobs(model, prompts, completions, 1.0)
        expect(out.requires_grad, "completion_logprobs must keep the graph when autograd is on: the loss's gradient flows through it")
        (out * mask).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        expect(not model.training, "completion_logprobs must run the model in the mode the caller set: leave model.train()/eval() to grpo_train")
    want, got = grads
    missing = sorted(set(want) - set(got))
    expect(not missing, "some weights got no gradient through your log-probs", f"no gradient: {missing[:3]}")
    for name in want:
        expect_close(got[name], want[name], f"the gradient of {name} differs from the reference's", rtol=1e-9, atol=1e-12)


# -- the loop -------------------------------------------------------------------------------------
class Watched:
    """One grpo_train run and what was seen while it ran; `error`: what it raised, if it did."""

    def __init__(self):
        self.history, self.error, self.policy_forwards, self.reference_forwards, self.reward_calls = None, None, [], [], []
        self.reference_changed, self.reference_grads, self.prompts_changed = [], [], False

    def finished(self) -> "Watched":
        """The run, or the exception it raised (the same one for every test that looks at it)."""
        if self.error is not None:
            raise self.error
        return self


def watched_run(module, **overrides) -> Watched:
    """module.grpo_train on a fresh starting policy and a frozen copy, with every forward and reward call recorded.
    Both come in train mode, as models fresh from supervised training do: grpo_train decides their mode."""
    settings = {**RUN, **overrides}
    policy, frozen = starting_policy().train(), starting_policy().train()
    w = Watched()
    before = {k: t.clone() for k, t in frozen.state_dict().items()}
    prompts = PROMPTS.clone()
    hooks = [
        policy.register_forward_pre_hook(lambda m, a: w.policy_forwards.append((m.training, torch.is_grad_enabled()))),
        frozen.register_forward_pre_hook(lambda m, a: w.reference_forwards.append((m.training, torch.is_grad_enabled()))),
    ]

    def reward_fn(prompt_rows, completions):
        w.reward_calls.append((prompt_rows.clone(), completions.clone()))
        return letter_reward(prompt_rows, completions)

    try:
        w.history = module.grpo_train(
            policy, frozen, prompts, reward_fn, settings["iterations"], settings["group_size"], settings["epochs"],
            settings["clip_eps"], settings["kl_coef"], settings["lr"], settings["seed"],
        )  # fmt: skip
    except Exception as e:  # noqa: BLE001 - kept, and raised by every test that needs the run
        w.error = e
    finally:
        for h in hooks:
            h.remove()
    w.prompts_changed = not _equal(prompts, PROMPTS)
    w.reference_changed = [k for k, t in frozen.state_dict().items() if not _equal(t, before[k])]
    w.reference_grads = [n for n, p in frozen.named_parameters() if p.grad is not None and bool(p.grad.any())]
    return w


_runs: dict = {}


def run_of(module, name) -> Watched:
    """The watched run of RUN for `name` ("yours" or "reference"), made once per grader process."""
    if name not in _runs:
        _runs[name] = watched_run(module)
    return _runs[name]


def history_of(w: Watched, epochs=RUN["epochs"], iterations=RUN["iterations"]) -> list:
    """The history, checked for its form: one dict per iteration, a float reward and a list per epoch of each stat."""
    h = w.finished().history
    expect(isinstance(h, list), "grpo_train returns the history: a list with one dict per iteration", f"got {type(h).__name__}")
    expect_equal(len(h), iterations, "the history holds one record per iteration", f"{len(h)} records for {iterations} iterations")
    for i, record in enumerate(h):
        expect(isinstance(record, dict), "each record of the history is a dict", f"record {i}: {type(record).__name__}")
        missing = [k for k in KEYS if k not in record]
        expect(not missing, f"each record holds {', '.join(KEYS)}", f"record {i}: missing {missing}")
        expect(isinstance(record["reward"], float), "record['reward'] is the batch's mean reward as a Python float", f"record {i}: {type(record['reward']).__name__}")
        for k in EPOCH_KEYS:
            value = record[k]
            expect(isinstance(value, list), f"record[{k!r}] is a list with one value per epoch", f"record {i}: {type(value).__name__}")
            if len(value) == 1 and epochs > 1:
                raise Misconception(
                    f"only one epoch per batch although epochs={epochs} was asked: each batch is used for `epochs` "
                    "updates, its old log-probs and advantages fixed, one loss and one step per epoch",
                    f"record {i}: {k} = {value}",
                )
            expect_equal(len(value), epochs, f"record[{k!r}] holds one value per epoch (epochs={epochs})", f"record {i}: {value}")
            expect(all(isinstance(x, float) for x in value), f"record[{k!r}] holds Python floats", f"record {i}: {value}")
    return h


def test_history_holds_every_iteration_and_epoch(submission, reference, reference_objective):
    """grpo_train returns one record per iteration, with the mean reward and the loss and stats of every epoch, and leaves the prompts alone"""
    w = run_of(submission, "yours")
    history_of(w)
    expect(not w.prompts_changed, "grpo_train changed the prompts passed in")


def test_the_first_epoch_of_each_batch_has_ratio_one(submission, reference, reference_objective):
    """at the first epoch of every batch the policy is the one that sampled: mean ratio 1, nothing clipped"""
    w = run_of(submission, "yours")
    h = history_of(w)
    trained = [t for t, grad in w.policy_forwards if grad]
    for i, record in enumerate(h):
        ratio, clipped = record["ratio"][0], record["clip_fraction"][0]
        if abs(ratio - 1) <= RATIO_ONE and clipped == 0.0:
            continue
        if any(trained):
            why = (
                "the loss is computed with dropout on (the policy in train mode): two forwards of the same weights then "
                "differ, so at the first epoch the ratio is not 1 and the clip acts on noise. Keep the policy in eval "
                "mode for the loss as well; RL fine-tuning turns dropout off"
            )
        else:
            why = (
                "at the first epoch the ratio must be 1 and nothing clipped: the old log-probs are those of the policy "
                "that sampled this batch (what sample recorded), not of another model or an earlier batch"
            )
        raise Misconception(why, f"iteration {i}, epoch 0: mean ratio {ratio:.6g}, clip fraction {clipped:.4g}")
    expect_close(
        [r["ratio"][0] for r in h], [1.0] * len(h), "the mean ratio at the first epoch of each batch is 1", rtol=0, atol=RATIO_ONE
    )


def test_old_log_probs_stay_fixed_while_the_epochs_reuse_the_batch(submission, reference, reference_objective):
    """the later epochs compare the updated policy with the fixed old log-probs: their ratio moves away from 1 and the clip acts"""
    theirs = history_of(run_of(reference, "reference"))
    expect_self_check(max(c for r in theirs for c in r["clip_fraction"][1:]) > 0.05, True, "the reference's later epochs clip")
    h = history_of(run_of(submission, "yours"))
    later = [(r["ratio"][e], r["clip_fraction"][e]) for r in h for e in range(1, RUN["epochs"])]
    if all(abs(ratio - 1) < 1e-6 and clipped == 0.0 for ratio, clipped in later):
        raise Misconception(
            "the old log-probs are recomputed every epoch: the ratio is then exp(0) = 1 at every epoch, and the clip "
            "never acts. Keep the log-probs sample recorded for the whole batch; only the new ones are recomputed",
            f"later epochs: mean ratios {[round(r, 6) for r, _ in later[:6]]}, clip fractions {[c for _, c in later[:6]]}",
        )
    expect(
        max(c for _, c in later) > 0,
        "the clip never acts in any later epoch, where the reference's clips up to "
        f"{max(c for r in theirs for c in r['clip_fraction'][1:]):.2f} of the tokens: are the old log-probs fixed per batch?",
    )


def test_the_reference_stays_frozen(submission, reference, reference_objective):
    """the reference is only read, under no_grad: its weights are bit-identical after training and never get a gradient"""
    w = run_of(submission, "yours")
    expect(
        bool(w.reference_forwards) or w.error is not None,
        "grpo_train never runs the reference: its log-probs are what the KL term compares with (from the policy "
        "itself the KL would be 0 at the first epoch of every batch)",
    )
    expect(
        not w.reference_changed,
        "the reference changed during training: it is the frozen starting point the KL term holds the policy near. "
        "Never give its parameters to the optimizer, never load the policy's weights into it",
        f"changed: {w.reference_changed[:3]}",
    )
    expect(
        not w.reference_grads,
        "the reference's parameters received gradients: compute its log-probs under torch.no_grad()",
        f"gradients on {w.reference_grads[:3]}",
    )
    expect(
        not any(training for training, _ in w.reference_forwards),
        "the reference runs in train mode, with dropout on: put it in eval mode (reference.eval()) before the loop, "
        "so that its log-probs are the frozen model's and the KL at the start of training is 0",
        f"{sum(t for t, _ in w.reference_forwards)} of {len(w.reference_forwards)} reference forwards in train mode",
    )
    expect(
        not any(grad for _, grad in w.reference_forwards),
        "the reference runs with autograd on: compute its log-probs under torch.no_grad(), once per batch",
        f"{sum(g for _, g in w.reference_forwards)} of {len(w.reference_forwards)} reference forwards with autograd",
    )
    h = history_of(w)
    if all(r["kl"][0] == 0.0 for r in h):
        raise Misconception(
            "the KL at the first epoch of every batch is 0: the reference log-probs come from the policy itself (or a copy "
            "kept in step with it). They come from the frozen reference model",
            f"KL at the first epochs: {[r['kl'][0] for r in h[:4]]}",
        )


def test_the_policy_stays_in_eval_mode(submission, reference, reference_objective):
    """the policy, handed over in train mode, runs in eval mode (dropout off) for every forward: sampling and the loss"""
    w = run_of(submission, "yours")
    train_mode = [grad for training, grad in w.policy_forwards if training]
    if not train_mode:
        w.finished()
    expect(
        not train_mode,
        "the policy runs in train mode, with dropout on, for the loss: call policy.eval() once before the loop (it "
        "arrives in train mode, and a supervised loop would even call policy.train()). With dropout the ratio at "
        "the first epoch is not 1 and the clip acts on noise",
        f"{len(train_mode)} of {len(w.policy_forwards)} policy forwards in train mode",
    )
    expect(
        any(grad for _, grad in w.policy_forwards),
        "the policy never runs with autograd: each epoch computes its new log-probs with autograd on, for backward()",
    )


def test_rewards_are_asked_for_each_completion_with_its_prompt(submission, reference, reference_objective):
    """reward_fn is called once per batch with the prompt of every completion, rows in the completions' order"""
    w = run_of(submission, "yours")
    G = RUN["group_size"]
    if not w.reward_calls:
        w.finished()
    expect(bool(w.reward_calls), "grpo_train never calls reward_fn: each batch is scored by it")
    rows, completions = w.reward_calls[0]
    N = PROMPTS.size(0) * G
    expect_equal(list(completions.shape), [N, 6], "reward_fn gets the completions as sample returned them, (P·G, max_new_tokens)")
    if rows.shape == PROMPTS.shape:
        raise Misconception(
            "reward_fn gets the P prompts, not the prompt of each completion: pass prompts.repeat_interleave(group_size, dim=0), "
            "(P·G, Tp), row i the prompt of completion i",
        )
    if rows.shape == (N, PROMPTS.size(1)) and _equal(rows, PROMPTS.repeat(G, 1)):
        raise Misconception(
            "the prompts given to reward_fn are in the wrong order: completion p·G + g continues prompt p, so repeat each "
            "prompt G times in a row, prompts.repeat_interleave(group_size, dim=0)",
        )
    expect_equal(rows.tolist(), PROMPTS.repeat_interleave(G, dim=0).tolist(), "reward_fn gets row i's prompt with completion i")
    w.finished()
    expect_equal(len(w.reward_calls), RUN["iterations"], "reward_fn is called once per iteration, on the whole batch")


# -- trajectories ---------------------------------------------------------------------------------
def simulate_loop(reference, flaw="", iterations=2):
    """The reference loop (reference's pieces) with one classic mistake written out; its history."""
    P, G, E = PROMPTS.size(0), RUN["group_size"], RUN["epochs"]
    policy, frozen = starting_policy(), starting_policy()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3 if flaw == "lr_ignored" else RUN["lr"])
    rows = PROMPTS.repeat_interleave(G, dim=0)
    once = gen(RUN["seed"])
    history = []
    for it in range(iterations):
        g = once if flaw == "one_generator" else gen(RUN["seed"] + it)
        completions, old = reference.sample(policy, PROMPTS, G, 6, 1.0, g)
        mask = torch.ones_like(completions, dtype=torch.bool) if flaw == "no_mask" else completion_mask(completions)
        rewards = letter_reward(rows, completions)
        if flaw == "groups_mixed":
            advantages = reference.group_advantages(rewards.view(G, P)).reshape(-1)
        else:
            advantages = reference.group_advantages(rewards.view(P, G)).view(-1)
        with torch.no_grad():
            ref = reference.completion_logprobs(frozen, rows, completions)
        record = {"reward": float(rewards.mean()), "loss": [], "ratio": [], "clip_fraction": [], "kl": []}
        for _ in range(E):
            new = reference.completion_logprobs(policy, rows, completions)
            loss, stats = reference.grpo_loss(
                new, old, ref, advantages, mask, RUN["clip_eps"], 0.0 if flaw == "kl_coef_ignored" else RUN["kl_coef"]
            )
            if flaw != "no_zero_grad":
                opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            record["loss"].append(loss.item())
            for k in ("ratio", "clip_fraction", "kl"):
                record[k].append(stats[k])
        history.append(record)
    return history


LOOP_MISTAKES = {
    "no_zero_grad": (
        "the gradients are never zeroed: each epoch's backward() adds to the last one's, so every step after the first "
        "follows the sum of all gradients so far. Call opt.zero_grad() before each backward()"
    ),
    "groups_mixed": (
        "the rewards are grouped wrongly: completion p·G + g belongs to prompt p, so the (P, G) groups are "
        "rewards.view(P, group_size); view(group_size, P) compares completions of different prompts"
    ),
    "no_mask": (
        "the padding after EOS is counted in the loss: pass completion_mask(completions) to grpo_loss, True up to and "
        "including each completion's EOS"
    ),
    "one_generator": (
        "the batches are sampled with one generator for the whole run: iteration i samples with a generator seeded "
        "seed + i, torch.Generator().manual_seed(seed + i)"
    ),
    "lr_ignored": "the optimizer does not use the lr passed in: torch.optim.AdamW(policy.parameters(), lr=lr)",
    "kl_coef_ignored": "kl_coef is not passed on to grpo_loss: the KL penalty is missing from the loss",
}


def close_history(got, want, n, tol=TRAJ):
    for g, w in zip(got[:n], want[:n]):
        if not math.isclose(g["reward"], w["reward"], rel_tol=0, abs_tol=1e-6):
            return False
        for k in EPOCH_KEYS:
            if len(g[k]) != len(w[k]) or not all(math.isclose(a, b, rel_tol=tol["rtol"], abs_tol=tol["atol"]) for a, b in zip(g[k], w[k])):
                return False
    return True


def first_difference(got, want, n):
    for i, (g, w) in enumerate(zip(got[:n], want[:n])):
        if not math.isclose(g["reward"], w["reward"], rel_tol=0, abs_tol=1e-6):
            return f"iteration {i}: mean reward {g['reward']:.6g}, reference {w['reward']:.6g}"
        for k in EPOCH_KEYS:
            for e, (a, b) in enumerate(zip(g[k], w[k])):
                if not math.isclose(a, b, rel_tol=TRAJ["rtol"], abs_tol=TRAJ["atol"]):
                    return f"iteration {i}, epoch {e}: {k} {a:.6g}, reference {b:.6g}"
    return ""


def test_early_trajectory_matches_the_reference(submission, reference, reference_objective):
    """the first iterations' rewards, losses, ratios, clip fractions and KLs are the reference loop's at the same seed"""
    want = history_of(run_of(reference, "reference"))
    got = history_of(run_of(submission, "yours"))
    if not close_history(got, want, EARLY):
        if not math.isclose(got[0]["reward"], want[0]["reward"], rel_tol=0, abs_tol=1e-6):
            why = (
                "the first batch already earns another mean reward: iteration i samples with "
                "sample(policy, prompts, group_size, max_new_tokens, temperature, generator) and a generator seeded seed + i, "
                "and record['reward'] is the mean of reward_fn's values for that batch"
            )
        else:
            why = next(
                (why for flaw, why in LOOP_MISTAKES.items() if close_history(got, simulate_loop(reference, flaw), 2, dict(rtol=1e-4, atol=1e-6))),
                "the history differs from the reference loop's at the same seed: per iteration, sample, rewards, group "
                "advantages, the reference's log-probs, then per epoch the policy's log-probs, grpo_loss against the old "
                "log-probs, zero_grad, backward, step (AdamW with lr, made once)",
            )
        raise Misconception(why, first_difference(got, want, EARLY))
    for i in range(EARLY):
        expect_close(got[i]["reward"], want[i]["reward"], f"the mean reward of iteration {i} differs from the reference's", rtol=0, atol=1e-6)
        for k in EPOCH_KEYS:
            expect_close(got[i][k], want[i][k], f"{k} at iteration {i} differs from the reference's", **TRAJ)


def test_the_mean_reward_rises(submission, reference, reference_objective):
    """over 12 iterations the mean reward rises as the reference's does: the last three well above the first three"""
    theirs = [r["reward"] for r in history_of(run_of(reference, "reference"))]
    margin = min(sum(theirs[-3:]) / 3 - sum(theirs[:3]) / 3 - RISE, sum(theirs[-3:]) / 3 - FINAL)
    expect_self_check(margin > 0.05, True, "the reference's rise, with a margin over the thresholds")
    rewards = [r["reward"] for r in history_of(run_of(submission, "yours"))]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    expect(
        last >= first + RISE and last >= FINAL,
        f"the mean reward does not rise enough: the last three iterations must average at least {RISE} more than the "
        f"first three, and at least {FINAL} (the reference's go from {sum(theirs[:3]) / 3:.2f} to {sum(theirs[-3:]) / 3:.2f})",
        f"your mean rewards: {[round(r, 3) for r in rewards]}",
    )


def test_same_seed_same_history_and_other_epoch_counts(submission, reference, reference_objective):
    """two runs with the same seed give the same history, another seed another, and epochs = 1 or 3 follow the reference"""
    short = dict(iterations=2)
    for epochs in (3, 1):
        want = history_of(watched_run(reference, epochs=epochs, **short), epochs, 2)
        first = history_of(watched_run(submission, epochs=epochs, **short), epochs, 2)
        if not close_history(first, want, 2):
            raise Misconception(
                f"with epochs={epochs} the history differs from the reference loop's: one update per epoch, every epoch "
                "on the same batch against the same old log-probs",
                first_difference(first, want, 2),
            )
        for i in range(2):
            for k in EPOCH_KEYS:
                expect_close(first[i][k], want[i][k], f"{k} with epochs={epochs}, iteration {i}", **TRAJ)
    again = history_of(watched_run(submission, epochs=1, **short), 1, 2)
    expect(again == first, "two runs with the same seed gave different histories: every draw must come from the generators seeded seed + i")
    other = history_of(watched_run(submission, epochs=1, seed=5, **short), 1, 2)
    expect(other != first, "another seed gave the same history: seed the generator of iteration i with seed + i")
