"""Grader: make_reference and a short DPO run, against the reference's run at the same seed.

The policy and the reference start as the course's supervised model (mentor.lab.preferences.sft_model)
in float64; the reference is handed over in train mode with dropout 0.1, so that one left in train
mode shows. The run trains on 48 generated pairs, every step on all of them. The learner's
dpo_train uses the reference's sequence_logprobs and dpo_loss (theirs from p4.dpo.loss are checked
first, by test_your_loss_functions_agree), so these tests grade the loop alone. Hooks on the reference
see its mode and whether autograd was on at each forward; torch.optim.AdamW is wrapped to see what
the optimizer holds. When the losses differ, the grader replays the run with the classic mistakes
written out (beta twice, gradients never zeroed, a new optimizer every step, ...) and names the one
that reproduces the learner's numbers.
"""

import math
from types import SimpleNamespace

import pytest
import torch

from mentor.grading.expect import Misconception, expect, expect_close, expect_self_check
from mentor.grading.torch_checks import expect_earlier_step_agrees
from mentor.lab.preferences import collate, make_pairs, sft_model

# Bound before any learner code runs.
_AdamW, _equal, _manual_seed = torch.optim.AdamW, torch.equal, torch.manual_seed
LN2 = math.log(2)

N_PAIRS, PAIR_SEED = 48, 5
RUN = dict(steps=12, beta=0.2, lr=2e-3, seed=0)  # not the usual 0.1 and 1e-3: a hard-coded value shows
REFERENCE_DROPOUT = 0.1
# float64 throughout: a run that sends chosen and rejected through one forward, or computes the reference's
# log-probs at every step, agrees with the reference's to ~2e-16 on the losses and ~1e-12 on the weights
# after 12 steps (measured); weight decay 0.01, the slowest mistake here, moves the losses by ~3e-4.
RTOL, ATOL = 1e-9, 1e-12
W_RTOL, W_ATOL = 1e-7, 1e-9
# An accuracy is a count over 48 pairs, a multiple of 1/48 ≈ 0.02: a mean taken in float32 rounds it by ~3e-8.
ACC_ATOL = 1e-6
SAME = dict(rel_tol=1e-7, abs_tol=1e-9)  # a replayed mistake explains the learner's losses this closely
REPLAYED = 4  # steps replayed per mistake

# -- messages ---------------------------------------------------------------------------------------
NOT_LN2 = (
    "the first loss is not ln 2: at the first step the policy equals the reference, every margin is 0 and "
    "-logsigmoid(0) = ln 2 ≈ 0.6931. The reference's log-probs differ from the policy's although their weights "
    "are equal: is the reference's dropout on (not in eval mode), or are they taken from another model?"
)
AFTER_UPDATE = (
    "each entry of the history is measured after the update: record the loss, accuracy and margin of the "
    "forward the step trained on, so the first entry is the starting point (loss ln 2, margin 0)"
)
TIES = (
    "ties count as preferred: accuracy is the fraction of pairs whose chosen reward is strictly greater than "
    "the rejected one (>); at the first step every reward is 0 and the accuracy 0"
)
SAME_FORWARD = (
    "the loss stays at ln 2 while the policy moves: the reference's log-probs come from the policy itself "
    "(the same forward, or the policy under no_grad), so every margin is 0 at every step. They must come from "
    "the frozen reference model"
)
NOT_TRAINED = (
    "the policy never changed: are its log-probs computed under no_grad or detached, or is optimizer.step() "
    "never called?"
)
MARGIN_NO_BETA = (
    "the margin is in log-ratio units, without beta: it is the mean of chosen_reward - rejected_reward, the "
    "rewards being beta·(pi - ref)"
)
MISTAKES = {
    "beta_twice": (
        "beta is applied twice: the log-probs handed to dpo_loss are already multiplied by beta (or the rewards "
        "are fed back in), so the margin is scaled by beta²; give dpo_loss the plain log-probs"
    ),
    "no_zero_grad": (
        "gradients accumulate across steps: zero them (opt.zero_grad()) before each backward, or every step adds "
        "its gradient to all the earlier ones"
    ),
    "rebuilt": (
        "a new optimizer is built at every step: AdamW's moments start from zero each time; build it once, before "
        "the loop"
    ),
    "weight_decay": (
        "the policy is decayed: torch.optim.AdamW decays by weight_decay=0.01 unless told otherwise; this run "
        "uses weight_decay=0.0"
    ),
    "default_lr": "the lr argument is not used: the run trains with lr=lr, here 2e-3",
}
NO_FORWARD = (
    "dpo_train never ran the reference model it was given: the reference's log-probs come from `reference`, "
    "whatever else you build"
)
REF_GRAD_ON = (
    "the reference's forward ran with autograd on: wrap it in torch.no_grad() (its log-probs are constants), "
    "or autograd records a graph of the whole reference model for nothing"
)
REF_TRAIN_MODE = (
    "the reference ran in train mode, its dropout on: call reference.eval() first, so that its log-probs are "
    "fixed numbers rather than a fresh random draw at every step"
)
REF_CHANGED = (
    "the reference changed during training: it must stay bit-identical; only the policy's parameters may be "
    "given to the optimizer, and no gradient may reach the reference"
)
REF_GRADS = (
    "the reference received gradients: its log-probs must be computed under torch.no_grad() (and dpo_loss "
    "detaches them), so that backward never reaches it"
)
HISTORY_KEPT = (
    "the history of an earlier call is kept and extended: build a new dict of new lists in every call (not a "
    "default argument or a global)"
)
OPT_HOLDS_REFERENCE = (
    "the optimizer holds the reference's parameters: give it the policy's only, "
    "torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)"
)
SHARED = (
    "make_reference shares tensors with the model (copy.copy, or a module holding the same Parameters): "
    "training the policy would move the reference too. copy.deepcopy(model) gives it tensors of its own"
)

# -- the run's inputs ---------------------------------------------------------------------------------


def models():
    """A fresh policy (dropout 0) and reference (dropout 0.1, in train mode, requires_grad on), both the
    supervised model in float64: equal weights, as at the start of every DPO run."""
    return sft_model().double(), sft_model(dropout=REFERENCE_DROPOUT).double()


def pairs_batch(n=N_PAIRS, seed=PAIR_SEED):
    return collate(make_pairs(n, seed=seed))


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="module")
def reference_losses(submission, reference):
    """While these tests run, your dpo_train calls the reference's sequence_logprobs and dpo_loss, so that
    they grade the training loop; yours are checked by test_your_loss_functions_agree."""
    yours = {name: getattr(submission, name) for name in ("sequence_logprobs", "dpo_loss")}
    for name in yours:
        setattr(submission, name, getattr(reference, name))
    yield yours
    for name, fn in yours.items():
        setattr(submission, name, fn)


class Recording:
    """torch.optim.AdamW, wrapped while the learner's run lasts: every optimizer it makes is kept."""

    def __init__(self, submission):
        self.made, self.submission = [], submission
        made = self.made

        class RecordedAdamW(_AdamW):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                made.append(self)

        self.cls = RecordedAdamW

    def __enter__(self):
        self.patched = [name for name, value in vars(self.submission).items() if value is _AdamW]
        torch.optim.AdamW = self.cls
        for name in self.patched:  # `from torch.optim import AdamW` at the top of the file
            setattr(self.submission, name, self.cls)
        return self

    def __exit__(self, *exc):
        torch.optim.AdamW = _AdamW
        for name in self.patched:
            setattr(self.submission, name, _AdamW)


def watched(module):
    """Records, at each forward of `module`: (autograd on?, any submodule in train mode?)."""
    seen = []
    module.register_forward_pre_hook(lambda m, args: seen.append((torch.is_grad_enabled(), any(x.training for x in m.modules()))))
    return seen


@pytest.fixture(scope="module")
def expected(reference):
    """The reference's run: its history and the policy's weights after it, before any code of yours runs."""
    policy, ref = models()
    history = reference.dpo_train(policy, ref, pairs_batch(), **RUN)
    return SimpleNamespace(history=history, weights=state(policy))


@pytest.fixture(scope="module")
def learner_run(submission, expected):
    """Your run on the same models and pairs, watched: the reference's forwards, the optimizers made."""
    policy, ref = models()
    start, ref_before = state(policy), state(ref)
    pairs = pairs_batch()
    pairs_before = [t.clone() for t in vars(pairs).values()]
    forwards = watched(ref)
    with Recording(submission) as recording:
        history = submission.dpo_train(policy, ref, pairs, **RUN)
    return SimpleNamespace(
        history=history, policy=policy, start=start, ref=ref, ref_before=ref_before, forwards=forwards,
        optimizers=recording.made, pairs=pairs, pairs_before=pairs_before,
    )  # fmt: skip


# -- the steps before ---------------------------------------------------------------------------------


def test_your_loss_functions_agree(submission, reference, reference_losses):
    """sequence_logprobs and dpo_loss from p4.dpo.loss match the reference on the run's pairs"""
    mine = reference_losses
    pairs = pairs_batch(6, seed=11)

    def run():
        policy, ref = models()
        ref.eval()
        with torch.no_grad():
            policy.tok_emb.weight.mul_(1.5)  # policy and reference apart, so that the margins are not 0
        got = [mine["sequence_logprobs"](m, pairs.chosen_ids, pairs.chosen_labels) for m in (policy, ref)]
        got += [mine["sequence_logprobs"](m, pairs.rejected_ids, pairs.rejected_labels) for m in (policy, ref)]
        want = [reference.sequence_logprobs(m, pairs.chosen_ids, pairs.chosen_labels) for m in (policy, ref)]
        want += [reference.sequence_logprobs(m, pairs.rejected_ids, pairs.rejected_labels) for m in (policy, ref)]
        loss = mine["dpo_loss"](got[0], got[2], got[1], got[3], 0.3)
        want_loss = reference.dpo_loss(want[0], want[2], want[1], want[3], 0.3)
        return torch.cat([*got, *(t.reshape(-1) for t in loss)]).detach(), torch.cat([*want, *(t.reshape(-1) for t in want_loss)]).detach()

    expect_earlier_step_agrees(
        "sequence_logprobs and dpo_loss", "p4.dpo.loss", run,
        "Meanwhile the other tests of this step run your dpo_train with the reference's versions of both.",
        "6 pairs, a policy apart from its reference, beta = 0.3",
    )  # fmt: skip


# -- make_reference -------------------------------------------------------------------------------------


def test_make_reference_is_a_frozen_copy(submission):
    """make_reference returns a new module with its own tensors, equal in value and dtype, without grad, in eval mode"""
    model = sft_model().double()
    before = state(model)
    copy = submission.make_reference(model)
    expect(copy is not None, "make_reference returned None: did you forget `return`?")
    expect(
        copy is not model,
        "make_reference returned the model itself: the reference must be a copy, or training the policy trains it too",
    )
    expect(isinstance(copy, torch.nn.Module), "make_reference returns a module, a copy of the model", f"got {type(copy).__name__}")
    expect(
        model.training and all(p.requires_grad for p in model.parameters()),
        "make_reference changed the model it copies (its mode or requires_grad): the policy must stay trainable; "
        "freeze the copy only",
    )
    theirs = {p.data_ptr() for p in model.parameters()}
    expect(not any(p.data_ptr() in theirs for p in copy.parameters()), SHARED, "the copy's parameters use the model's storage")
    mine = copy.state_dict()
    expect(set(mine) == set(before), "the copy has other weights than the model", f"keys: {sorted(set(mine) ^ set(before))[:4]}")
    for k, v in before.items():
        expect(mine[k].dtype == v.dtype, "the copy has another dtype than the model: keep it (a float64 model gives a float64 reference)", f"{k}: {mine[k].dtype}, model {v.dtype}")
        expect(_equal(mine[k], v), "the copy's weights differ from the model's", f"{k} differs")
    expect(
        not any(p.requires_grad for p in copy.parameters()),
        "the reference's parameters still require grad: freeze them (copy.requires_grad_(False)) so that nothing "
        "can train them",
        f"{sum(p.requires_grad for p in copy.parameters())} of {len(list(copy.parameters()))} require grad",
    )
    expect(
        not any(m.training for m in copy.modules()),
        "make_reference must return the copy in eval mode (copy.eval()): dropout off, its log-probs fixed",
    )
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the policy trains...
    expect(all(_equal(copy.state_dict()[k], v) for k, v in before.items()), SHARED, "changing the model changed the copy")
    expect_close(copy.state_dict()["lm_head.weight"], before["lm_head.weight"], "the copy's weights differ from the model's")


# -- the run ----------------------------------------------------------------------------------------------


def test_history_holds_one_float_per_step(submission, learner_run):
    """dpo_train returns {"loss", "accuracy", "margin"}, each a list of `steps` Python floats"""
    history = learner_run.history
    expect(history is not None, "dpo_train returned None: did you forget `return history`?")
    expect(isinstance(history, dict), 'dpo_train returns a dict: {"loss": [...], "accuracy": [...], "margin": [...]}', f"got {type(history).__name__}")
    expect(set(history) == {"loss", "accuracy", "margin"}, 'the history has exactly the keys "loss", "accuracy" and "margin"', f"got {sorted(map(str, history))}")
    for key, values in history.items():
        expect(isinstance(values, list), f'history["{key}"] is a list', f"got {type(values).__name__}")
        expect(len(values) == RUN["steps"], f'history["{key}"] holds one entry per step', f'{len(values)} entries for steps={RUN["steps"]}')
        bad = [type(v).__name__ for v in values if type(v) is not float]
        expect(
            not bad,
            f'history["{key}"] holds Python floats (loss.item(), float(...)): a tensor kept there keeps its graph alive',
            f"found {bad[:1]}",
        )


def floats(history, key):
    values = history.get(key) if isinstance(history, dict) else None
    expect(
        isinstance(values, list) and len(values) == RUN["steps"] and all(isinstance(v, (int, float)) for v in values),
        f'history["{key}"] must be a list of {RUN["steps"]} floats (see test_history_holds_one_float_per_step)',
    )
    return [float(v) for v in values]


def test_run_matches_the_reference_at_the_same_seed(submission, reference, expected, learner_run):
    """the losses, accuracies and margins of every step, and the policy after the run, match the reference's run"""
    got, want = learner_run.history, expected.history
    expect_self_check(round(want["loss"][0], 12), round(LN2, 12), "the reference run's first loss")
    losses = floats(got, "loss")
    for k, (g, w) in enumerate(zip(losses, want["loss"])):
        if not math.isclose(g, w, rel_tol=RTOL, abs_tol=ATOL):
            why = diagnose_run(got, expected, learner_run, reference) or (
                f"the losses differ from the reference run's from step {k} on"
            )
            raise Misconception(why, run_diff(losses, want["loss"], k))
    tolerance = {"loss": (RTOL, ATOL), "accuracy": (0.0, ACC_ATOL), "margin": (RTOL, ATOL)}
    for key, why in (("accuracy", TIES), ("margin", MARGIN_NO_BETA)):
        values = floats(got, key)
        rtol, atol = tolerance[key]
        for k, (g, w) in enumerate(zip(values, want[key])):
            if not math.isclose(g, w, rel_tol=rtol, abs_tol=atol):
                if key == "accuracy" and not (g == 1.0 and w == 0.0):
                    why = f"the accuracy differs from the reference run's from step {k} on: the fraction of pairs with chosen_reward > rejected_reward"
                if key == "margin" and not math.isclose(g * RUN["beta"], w, **SAME):
                    why = f"the margin differs from the reference run's from step {k} on: the mean of chosen_reward - rejected_reward"
                raise Misconception(why, run_diff(values, want[key], k, key))
    for key in ("loss", "accuracy", "margin"):
        rtol, atol = tolerance[key]
        expect_close(torch.tensor(floats(got, key)), torch.tensor(want[key]), f"the run's {key} differs from the reference's", rtol=rtol, atol=atol)
    weights = state(learner_run.policy)
    for name, w in expected.weights.items():
        expect_close(weights[name], w, f"after the run the policy's {name} differs from the reference run's", rtol=W_RTOL, atol=W_ATOL)


def run_diff(got, want, k, key="loss"):
    shown = ", ".join(f"{g:.8g} ({w:.8g})" for g, w in list(zip(got, want))[: max(k + 2, 3)])
    return f"{key} per step, yours (the reference run's): {shown}"


def diagnose_run(got, expected, learner_run, reference):
    """The mistake that explains the learner's losses, from their values or a replay of the run; or None."""
    losses, want = floats(got, "loss"), expected.history["loss"]
    if not math.isclose(losses[0], LN2, **SAME):
        return AFTER_UPDATE if math.isclose(losses[0], want[1], **SAME) else NOT_LN2
    if any(not _equal(v, learner_run.ref_before[k]) for k, v in state(learner_run.ref).items()):
        return REF_CHANGED
    if all(math.isclose(v, LN2, **SAME) for v in losses):
        moved = any(not _equal(v, learner_run.start[k]) for k, v in state(learner_run.policy).items())
        return SAME_FORWARD if moved else NOT_TRAINED
    for flaw, why in MISTAKES.items():
        replayed = replay(reference, flaw)
        if all(math.isclose(g, w, **SAME) for g, w in zip(losses[:REPLAYED], replayed)):
            return why
    return None


def replay(reference, flaw, steps=REPLAYED):
    """The run's first losses with one mistake written out (a key of MISTAKES)."""
    policy, ref = models()
    ref.eval()
    pairs = pairs_batch()
    beta = RUN["beta"] ** 2 if flaw == "beta_twice" else RUN["beta"]
    make = lambda: _AdamW(  # noqa: E731
        policy.parameters(), lr=1e-3 if flaw == "default_lr" else RUN["lr"], weight_decay=0.01 if flaw == "weight_decay" else 0.0
    )
    _manual_seed(RUN["seed"])
    with torch.no_grad():
        ref_c = reference.sequence_logprobs(ref, pairs.chosen_ids, pairs.chosen_labels)
        ref_r = reference.sequence_logprobs(ref, pairs.rejected_ids, pairs.rejected_labels)
    opt, losses = make(), []
    for _ in range(steps):
        if flaw == "rebuilt":
            opt = make()
        pi_c = reference.sequence_logprobs(policy, pairs.chosen_ids, pairs.chosen_labels)
        pi_r = reference.sequence_logprobs(policy, pairs.rejected_ids, pairs.rejected_labels)
        loss = reference.dpo_loss(pi_c, pi_r, ref_c, ref_r, beta)[0]
        if flaw != "no_zero_grad":
            opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_accuracy_and_margin_rise(submission, expected, learner_run):
    """over the run the preference accuracy climbs from 0 to at least 0.9 and the reward margin grows from 0"""
    want = expected.history
    expect_self_check(want["accuracy"][0] == 0.0 and want["accuracy"][-1] >= 0.9 and want["margin"][-1] > 0.1, True, "the reference run's rise")
    accuracy, margin = floats(learner_run.history, "accuracy"), floats(learner_run.history, "margin")
    expect(
        accuracy[-1] >= 0.9 and accuracy[-1] > accuracy[0],
        "the preference accuracy does not rise to 0.9: after 12 steps nearly every chosen reward should exceed its "
        "rejected one",
        f"accuracy per step: {[round(a, 3) for a in accuracy]}",
    )
    half = len(margin) // 2
    expect(
        margin[-1] > margin[half] > margin[0],
        "the implicit reward margin does not grow over the run: training should push each chosen reward above its "
        "rejected one, further at every step",
        f"margin per step: {[round(m, 4) for m in margin]}",
    )


def test_reference_runs_in_eval_mode_without_autograd(submission, learner_run):
    """dpo_train runs the reference it is given, in eval mode and under torch.no_grad(), at every forward"""
    forwards = learner_run.forwards
    expect(bool(forwards), NO_FORWARD, "no forward of the reference was seen")
    expect(not any(m for _, m in forwards), REF_TRAIN_MODE, f"in train mode at {sum(m for _, m in forwards)} of {len(forwards)} forwards")
    expect(not any(g for g, _ in forwards), REF_GRAD_ON, f"autograd on at {sum(g for g, _ in forwards)} of {len(forwards)} forwards")


def test_reference_stays_bit_identical_without_gradients(submission, learner_run):
    """after the run every parameter and buffer of the reference is bit-identical and none has a gradient"""
    after = state(learner_run.ref)
    changed = [k for k, v in learner_run.ref_before.items() if not _equal(after[k], v)]
    expect(not changed, REF_CHANGED, f"changed: {changed[:4]}")
    graded = [n for n, p in learner_run.ref.named_parameters() if p.grad is not None]
    expect(not graded, REF_GRADS, f"with a .grad: {graded[:4]}")
    pairs_now = list(vars(learner_run.pairs).values())
    expect(
        all(_equal(a, b) for a, b in zip(pairs_now, learner_run.pairs_before)),
        "dpo_train changed the pairs it was given: read the ids and labels, never write them",
    )


def test_optimizer_is_adamw_over_the_policy(submission, learner_run):
    """one torch.optim.AdamW, built once, holding every parameter of the policy and none of the reference's, lr=lr, weight_decay=0"""
    made = learner_run.optimizers
    expect(
        bool(made),
        "dpo_train must train with torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0) (looked up when "
        "dpo_train runs)",
        "no torch.optim.AdamW was made during the run",
    )
    expect(len(made) == 1, MISTAKES["rebuilt"], f"{len(made)} optimizers were made for {RUN['steps']} steps")
    groups = made[0].param_groups
    held = {id(p) for g in groups for p in g["params"]}
    expect(not held & {id(p) for p in learner_run.ref.parameters()}, OPT_HOLDS_REFERENCE)
    missing = [n for n, p in learner_run.policy.named_parameters() if id(p) not in held]
    expect(not missing, "the optimizer must hold every parameter of the policy: policy.parameters()", f"missing: {missing[:4]}")
    for g in groups:
        expect(g["lr"] == RUN["lr"], MISTAKES["default_lr"], f"lr {g['lr']}")
        expect(g["weight_decay"] == 0.0, MISTAKES["weight_decay"], f"weight_decay {g['weight_decay']}")
        expect(
            tuple(g["betas"]) == (0.9, 0.999) and g["eps"] == 1e-8,
            "AdamW runs with its default betas (0.9, 0.999) and eps 1e-8 here",
            f"betas {g['betas']}, eps {g['eps']}",
        )


def test_seeded_runs_repeat(submission):
    """two runs with the same seed give the same history, whatever the random state before, with a policy that has dropout"""
    pairs = pairs_batch(12, seed=21)
    histories = []
    for disturb in (3, 4):
        policy, ref = sft_model(dropout=0.2).double(), sft_model().double()
        torch.rand(disturb)  # the global random state differs before each call
        histories.append(submission.dpo_train(policy, ref, pairs, steps=3, beta=0.2, lr=2e-3, seed=7))
    first, second = (h.get("loss") if isinstance(h, dict) else h for h in histories)
    expect(
        first == second,
        "two runs with the same seed differ: call torch.manual_seed(seed) first, so that the policy's dropout draws "
        "the same masks",
        f"losses: {first} and {second}",
    )


def test_each_call_its_own_history_one_pair_and_zero_steps(submission, reference, expected):
    """steps = 0 returns empty lists and leaves the policy alone; consecutive calls each return their own history; one pair works"""
    policy, ref = models()
    before = state(policy)
    empty = submission.dpo_train(policy, ref, pairs_batch(), steps=0, beta=0.2, lr=2e-3, seed=0)
    expect(
        not (isinstance(empty, dict) and any(isinstance(v, list) and v for v in empty.values())),
        HISTORY_KEPT,
        f"steps=0 after earlier calls: lengths { {k: len(v) for k, v in empty.items() if isinstance(v, list)} }",
    )
    expect(
        isinstance(empty, dict) and all(empty.get(k) == [] for k in ("loss", "accuracy", "margin")),
        'with steps = 0 the history is {"loss": [], "accuracy": [], "margin": []}',
        f"got {empty!r}"[:200],
    )
    expect(all(_equal(v, before[k]) for k, v in state(policy).items()), "with steps = 0 the policy must stay as it was")
    for steps in (2, 3):
        policy, ref = models()
        history = submission.dpo_train(policy, ref, pairs_batch(), steps=steps, beta=RUN["beta"], lr=RUN["lr"], seed=RUN["seed"])
        lengths = {k: len(v) for k, v in history.items()} if isinstance(history, dict) else {}
        expect(set(lengths.values()) == {steps}, HISTORY_KEPT, f"steps={steps}: lengths {lengths}")
        expect_close(
            torch.tensor(history["loss"]), torch.tensor(expected.history["loss"][:steps]),
            f"a run of {steps} steps must give the first {steps} losses of the run of {RUN['steps']} (same models, pairs "
            "and seed; test_run_matches_the_reference_at_the_same_seed shows where yours parts from the reference's)",
            rtol=RTOL, atol=ATOL,
        )  # fmt: skip
    one = pairs_batch(1, seed=31)
    policy, ref = models()
    want = reference.dpo_train(*models(), one, steps=2, beta=0.5, lr=2e-3, seed=0)
    got = submission.dpo_train(policy, ref, one, steps=2, beta=0.5, lr=2e-3, seed=0)
    expect(isinstance(got, dict) and "loss" in got, 'dpo_train returns {"loss": [...], ...} for a single pair too')
    expect_close(torch.tensor(got["loss"]), torch.tensor(want["loss"]), "a run on a single pair differs from the reference's", rtol=RTOL, atol=ATOL)
