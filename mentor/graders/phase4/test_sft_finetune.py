"""Grader: the fine-tuning loop and a greedy reply, on the course's GPT and generated instructions.

The learner's finetune and respond run with the reference's render, build_example, collate and
sft_loss (their own, from p4.sft.mask, are checked first by test_your_mask_step_agrees), so these
tests grade the loop and the decoder alone. A tiny GPT (2 layers, d_model 64, dropout 0.1) is trained
from the same seed by the reference and by the learner: the losses must follow the reference's step
for step, and exact match on held-out prompts, about 0 before, must rise to within reach of the
reference's after 300 steps. When the losses differ, the grader replays the run with the classic
mistakes written out (no dropout, no masking, an optimizer per step, ...) and names the one that
reproduces the learner's numbers.
"""

import copy
import functools

import pytest
import torch
import torch.nn.functional as F

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal, expect_self_check
from mentor.grading.torch_checks import expect_earlier_step_agrees
from mentor.lab import GPT, GPTConfig
from mentor.lab.tasks import QUICK_TASKS, TOKENIZER, exact_match, instruction_split

# Bound before any learner code runs: the expected values never go through a patched name.
AdamW, Generator, _randint, _equal = torch.optim.AdamW, torch.Generator, torch.randint, torch.equal
IGNORE = -100
CONFIG = dict(vocab_size=TOKENIZER.vocab_size, block_size=32, d_model=64, n_layers=2, n_heads=4, dropout=0.1)
# The long run: the three quick tasks, 2000 training pairs, 96 held-out ones, 300 steps of 16 examples at lr 1e-3
# (about 10 s on one CPU thread). The reference answers about 0.9 of the held-out prompts afterwards.
TRAIN, HELDOUT = instruction_split(2000, 96, seed=0, tasks=QUICK_TASKS)
STEPS, LR, BATCH, SEED = 300, 1e-3, 16, 0
MIN_SHARE = 0.8  # of the reference's exact match: a correct loop that rounds differently lands within a few pairs
# Losses are float32. A loop that computes the same loss in another order (a masked mean written out, the
# model's own loss) follows the reference within ~1e-6 relative over the first steps; every mistake below
# (dropout off, the prompt in the loss, an optimizer per step, another lr) moves some early loss by 1e-3 or more.
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-6
EARLY = 10  # steps of the long run compared with the reference's

EVAL_MODE = (
    "the model was left in eval mode, so dropout never applied: call model.train() before the loop (a model may "
    "arrive in eval mode, fresh from an evaluation), or the run is not the regularised one the task asks for"
)
TRAIN_MODE_GEN = (
    "generation in train mode: respond must switch the model to eval mode (model.eval()), or dropout drops "
    "activations at random and greedy decoding gives a different reply each time"
)
NO_MASK = (
    "no masking: the loss covers the prompt too. Train with build_example's labels, -100 on the prompt and the "
    "template, not on the input shifted by one; the model is then asked to write the user's text"
)
FRESH_OPTIMIZER = (
    "the optimizer is re-created every step: AdamW keeps its moments and step count from step to step, and a fresh "
    "one forgets them (every step is then a first, bias-corrected step of size ~lr per weight). Build it once, "
    "before the loop"
)
LR_IGNORED = (
    "lr is ignored: two runs with different lr give the same losses. Pass it to the optimizer, "
    "torch.optim.AdamW(model.parameters(), lr=lr)"
)
NO_ZERO_GRAD = (
    "gradients accumulate across steps: loss.backward() adds to .grad, so zero the gradients every step "
    "(opt.zero_grad()) before backward()"
)
ZERO_BEFORE_STEP = (
    "the gradients are zeroed between backward() and step(): the optimizer then sees no gradient at all. Zero "
    "them before backward() (or at the start of the step)"
)
NOT_REPRODUCIBLE = (
    "finetune is not reproducible from its seed: two runs with the same seed give different losses. Call "
    "torch.manual_seed(seed) at its start (dropout draws from torch's global generator) and draw the batches from "
    "torch.Generator().manual_seed(seed)"
)
BATCHES = (
    "the batches are not the ones the task draws: each step takes the examples at "
    "torch.randint(len(examples), (batch_size,), generator=gen), gen = torch.Generator().manual_seed(seed), in "
    "that order"
)
LEAK = (
    "finetune trained on sequences that are not among the examples it was given: train on `examples` only. Data "
    "from anywhere else (the course's generator, the held-out prompts) turns the held-out score into a memory test"
)
PER_SEQUENCE = (
    "the loss is a mean per sequence: train with sft_loss, one mean over every supervised token of the batch"
)
NO_STOP = (
    "greedy decoding does not stop at <|end|>: when the argmax is TOKENIZER.end_id the reply is complete; stop "
    "there and leave the end marker out of the reply"
)
REPLY_ONLY = "respond returns the reply alone: the text of the ids generated after <|assistant|>, not the prompt"
NO_GRAD = (
    "respond must run under torch.no_grad() (or torch.inference_mode()): decoding needs no gradients, and every "
    "forward with autograd on keeps its activations for a backward that never comes"
)
MODE_BACK = (
    "respond must give the model back in the mode it found it: remember model.training, switch to eval for the "
    "decoding, then model.train(was_training)"
)
BLOCK = (
    "respond must stop when the context holds block_size ids: the model has no position beyond them (mentor.lab.GPT "
    "raises ValueError for a longer input)"
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Every tensor here is small: one thread is the fastest setting and the only one a busy CPU does not slow
    down by an order of magnitude. The reference and your code run on that same thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fresh_model(seed=1, **changes):
    """A new GPT from `seed`, handed over in eval mode, as a model is right after an evaluation."""
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**CONFIG, **changes})).eval()


def losses_of(value, steps, where) -> list:
    expect(isinstance(value, list), "finetune returns a list with the loss of every step", f"{where}: got {type(value).__name__}")
    expect(
        len(value) == steps,
        "finetune returns one loss per step, `steps` of them",
        f"{where}: {len(value)} losses for {steps} steps",
    )
    expect(
        all(type(v) is float for v in value),
        "finetune returns the losses as Python floats (loss.item()), not tensors that keep the graph",
        f"{where}: got {[type(v).__name__ for v in value[:3]]}",
    )
    return value


def with_reference_mask(submission, reference, patch):
    for name in ("render", "build_example", "collate", "sft_loss"):
        patch.setattr(submission, name, getattr(reference, name))


@pytest.fixture
def reference_mask(submission, reference, monkeypatch):
    """While a test runs, your finetune and respond use the reference's render, build_example, collate and
    sft_loss; yours are graded by test_your_mask_step_agrees."""
    with_reference_mask(submission, reference, monkeypatch)


# -- the runs -------------------------------------------------------------------------------------
@functools.cache
def reference_long_run(reference):
    """The reference's 300 steps from a fresh model: (trained weights, losses, exact match before and after)."""
    model = fresh_model()
    before = exact_match(model, HELDOUT, reference.respond)
    losses = reference.finetune(model, TRAIN, STEPS, LR, BATCH, SEED)
    after = exact_match(model, HELDOUT, reference.respond)
    return copy.deepcopy(model.state_dict()), losses, before, after


@pytest.fixture(scope="module")
def your_long_run(submission, reference):
    """Your finetune on the same fresh model, data and seed: (trained model, losses). Run once for the tests that need it."""
    reference_long_run(reference)  # the reference first, before any of your code runs in this fixture
    with pytest.MonkeyPatch.context() as patch:
        with_reference_mask(submission, reference, patch)
        model = fresh_model()
        losses = submission.finetune(model, list(TRAIN), STEPS, LR, BATCH, SEED)
    return model, losses


def trained_reference_model(reference):
    model = fresh_model()
    model.load_state_dict(reference_long_run(reference)[0])
    return model


# -- the mistakes, written out --------------------------------------------------------------------
def simulate(reference, examples, steps, lr, batch_size, seed, flaw="", model_seed=1):
    """The reference loop with one `flaw` (a key of FLAWS, or "" for none): the losses of a fresh model."""
    model = fresh_model(model_seed)
    torch.manual_seed(seed)
    gen = Generator().manual_seed(seed)
    built = [reference.build_example(p, r, CONFIG["block_size"]) for p, r in examples]
    if flaw == "no_mask":  # every next token a target: the whole sequence shifted by one
        built = [(ids, ids[1:] + [TOKENIZER.end_id]) for ids, _ in built]
    opt = AdamW(model.parameters(), lr=lr)
    if flaw != "eval":
        model.train()
    losses = []
    for _ in range(steps):
        if flaw == "global_rng":
            idx = _randint(len(built), (batch_size,))
        else:
            idx = _randint(len(built), (batch_size,), generator=gen)
        ids, labels, _ = reference.collate([built[i] for i in idx.tolist()], TOKENIZER.pad_id)
        logits, _ = model(ids)
        if flaw == "per_sequence":
            per_token = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
            loss = (per_token.sum(1) / (labels != IGNORE).sum(1)).mean()
        else:
            loss = reference.sft_loss(logits, labels)
        if flaw == "fresh_optimizer":
            opt = AdamW(model.parameters(), lr=lr)
        if flaw != "no_zero_grad":
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if flaw == "zero_before_step":
            opt.zero_grad(set_to_none=True)
        opt.step()
        losses.append(loss.item())
    return losses


FLAWS = {
    "eval": EVAL_MODE,
    "no_mask": NO_MASK,
    "fresh_optimizer": FRESH_OPTIMIZER,
    "no_zero_grad": NO_ZERO_GRAD,
    "zero_before_step": ZERO_BEFORE_STEP,
    "global_rng": BATCHES,
    "per_sequence": PER_SEQUENCE,
}


def close(a, b) -> bool:
    return len(a) == len(b) and torch.allclose(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), LOSS_RTOL, LOSS_ATOL)


def diagnose_run(submission, reference, got, want, run) -> str:
    """Why the learner's losses `got` differ from the reference's `want` for the run `run` (a dict of finetune's
    arguments but the model): a flaw that reproduces them, a property they break, or what was observed."""
    n = len(got)
    for flaw, why in FLAWS.items():
        if close(got, simulate(reference, run["examples"], n, run["lr"], run["batch_size"], run["seed"], flaw)):
            return why
    model = fresh_model()
    torch.manual_seed(12345)  # torch's global generator elsewhere: a finetune that seeds itself does not notice
    again = submission.finetune(model, list(run["examples"]), n, run["lr"], run["batch_size"], run["seed"])
    if again != got:
        return NOT_REPRODUCIBLE
    other = submission.finetune(fresh_model(), list(run["examples"]), n, 3 * run["lr"], run["batch_size"], run["seed"])
    if n > 1 and other == got:
        return LR_IGNORED
    step = next(i for i in range(n) if not close(got[i : i + 1], want[i : i + 1]))
    return (
        f"the losses differ from the reference's from step {step} on"
        + (" (the very first loss, before any update: the batch, the labels, dropout or the loss itself differ)" if step == 0 else
           " (the first loss agrees: the update differs, the optimizer, its lr or the gradients)")
    )  # fmt: skip


def expect_same_losses(submission, reference, got, want, run, where):
    if not close(got, want):
        step = next((i for i in range(len(want)) if not close(got[i : i + 1], want[i : i + 1])), 0)
        raise Misconception(
            diagnose_run(submission, reference, got, want, run),
            f"{where}: step {step}: loss {got[step]:.6f}, the reference's {want[step]:.6f}\n yours {[round(x, 4) for x in got[:6]]}\n"
            f" reference {[round(x, 4) for x in want[:6]]}",
        )
    expect_close(got, want, f"the losses of {where}", rtol=LOSS_RTOL, atol=LOSS_ATOL)


SHORT = dict(examples=TRAIN[:64], lr=3e-3, batch_size=8, seed=11)  # a short run with other settings than the long one


# -- the tests ------------------------------------------------------------------------------------
def test_your_mask_step_agrees(submission, reference):
    """the render, build_example, collate and sft_loss your finetune builds on (p4.sft.mask) match the reference"""
    pairs = [("max: ab", "b"), ("length: fadecabbe", "9"), ("first: cab", "c")]

    def outputs(module):
        examples = [module.build_example(p, r, 12) for p, r in pairs]
        ids, labels, mask = module.collate(examples, TOKENIZER.pad_id)
        logits = torch.randn(*ids.shape, TOKENIZER.vocab_size, generator=Generator().manual_seed(3), dtype=torch.float64)
        prompt = module.render([{"role": "user", "content": "<|end|>max: ab"}])
        loss = module.sft_loss(logits, labels)
        return torch.cat([ids.flatten(), labels.flatten(), mask.flatten().long(), torch.tensor(prompt)]).double(), loss.reshape(1)

    def run():
        want = torch.cat(outputs(reference))
        return torch.cat(outputs(submission)), want

    expect_earlier_step_agrees(
        "render, build_example, collate and sft_loss", "p4.sft.mask", run,
        "Meanwhile the other tests of this step run your finetune and respond with the reference's.",
        "three examples cut to max_len=12, collated, and their loss on random logits",
    )  # fmt: skip


def test_losses_follow_the_reference(submission, reference, reference_mask):
    """finetune's losses follow the reference's step for step, from the same model, data and seed (lr 3e-3, batch 8)"""
    n = 8
    want = reference.finetune(fresh_model(), list(SHORT["examples"]), n, SHORT["lr"], SHORT["batch_size"], SHORT["seed"])
    expect_self_check(close(want, simulate(reference, SHORT["examples"], n, SHORT["lr"], SHORT["batch_size"], SHORT["seed"])), True,
                      "the grader's replay of the reference loop")  # fmt: skip
    got = submission.finetune(fresh_model(), list(SHORT["examples"]), n, SHORT["lr"], SHORT["batch_size"], SHORT["seed"])
    got = losses_of(got, n, "8 steps at lr 3e-3, batch 8")
    expect_same_losses(submission, reference, got, want, SHORT, "8 steps at lr 3e-3, batch 8")


def test_lr_is_used(submission, reference, reference_mask):
    """finetune trains with the lr it is given: runs at lr 1e-3 and 5e-3 each follow the reference's"""
    run = dict(SHORT, batch_size=4, seed=12)
    lrs = (1e-3, 5e-3)
    want = [reference.finetune(fresh_model(), list(run["examples"]), 3, lr, run["batch_size"], run["seed"]) for lr in lrs]
    got = [
        losses_of(submission.finetune(fresh_model(), list(run["examples"]), 3, lr, run["batch_size"], run["seed"]), 3, f"lr={lr}")
        for lr in lrs
    ]
    expect(got[0] != got[1], LR_IGNORED, f"lr={lrs[0]}: {got[0]}\n lr={lrs[1]}: {got[1]}")
    for lr, g, w in zip(lrs, got, want):
        expect_same_losses(submission, reference, g, w, dict(run, lr=lr), f"3 steps at lr={lr}")


def recorded_forwards(model):
    """Each forward's input ids, whether the model was in train mode and whether autograd was on."""
    seen = []

    def hook(module, args, kwargs):
        idx = args[0] if args else kwargs["idx"]
        seen.append((idx.detach().cpu().clone(), module.training, torch.is_grad_enabled()))

    return seen, model.register_forward_pre_hook(hook, with_kwargs=True)


def test_trains_on_the_given_examples_in_train_mode(submission, reference, reference_mask):
    """each step trains in train mode on one batch of the given examples, drawn by the seeded generator, and on nothing else"""
    examples, steps, batch_size, seed = TRAIN[100:140], 6, 4, 13
    built = [reference.build_example(p, r, CONFIG["block_size"]) for p, r in examples]
    gen = Generator().manual_seed(seed)
    want_rows = [[built[i][0] for i in _randint(len(built), (batch_size,), generator=gen).tolist()] for _ in range(steps)]
    known = {tuple(ids) for ids, _ in built}
    model = fresh_model()
    seen, handle = recorded_forwards(model)
    try:
        submission.finetune(model, list(examples), steps, 1e-3, batch_size, seed)
    finally:
        handle.remove()
    training = [s for s in seen if s[2]]  # forwards with autograd on: the training steps
    expect(bool(training), "finetune must train the model it is given: no forward with autograd on was seen")
    rows = [[_strip(row) for row in idx.tolist()] for idx, _, _ in training]
    foreign = [row for step in rows for row in step if tuple(row) not in known]
    expect(
        not foreign,
        LEAK,
        f"{len(foreign)} trained sequences are not among the {len(examples)} examples, the first: {TOKENIZER.decode(foreign[0]) if foreign else ''!r}",
    )
    expect(
        all(mode for _, mode, _ in training),
        EVAL_MODE,
        f"{sum(not mode for _, mode, _ in training)} of {len(training)} training forwards ran in eval mode",
    )
    expect(
        len(training) == steps,
        "one forward per step, of one batch: finetune ran the model with autograd on another number of times",
        f"{len(training)} forwards for {steps} steps",
    )
    if rows != want_rows:
        step = next(i for i, (a, b) in enumerate(zip(rows, want_rows)) if a != b)
        raise Misconception(
            BATCHES,
            f"step {step}: trained on {[TOKENIZER.decode(r[1:8]) for r in rows[step]]}, expected {[TOKENIZER.decode(r[1:8]) for r in want_rows[step]]}",
        )
    expect_equal(rows, want_rows, BATCHES)


def _strip(row: list) -> list:
    """A row of a right-padded batch without its padding (no example ends in the pad id)."""
    end = len(row)
    while end and row[end - 1] == TOKENIZER.pad_id:
        end -= 1
    return row[:end]


def test_two_calls_and_the_inputs(submission, reference, reference_mask):
    """finetune leaves the examples unchanged, takes tuples, does nothing for 0 steps, and a second call continues from the trained weights with an optimizer of its own"""
    examples = tuple((p, r) for p, r in TRAIN[:24])  # plain tuples in a tuple
    before = copy.deepcopy(examples)
    ref_model = fresh_model()
    want = [reference.finetune(ref_model, list(examples), 3, 2e-3, 4, seed) for seed in (21, 22)]
    model = fresh_model()
    got = [losses_of(submission.finetune(model, examples, 3, 2e-3, 4, seed), 3, f"call {k + 1}") for k, seed in enumerate((21, 22))]
    expect(examples == before, "finetune must leave the examples it is given unchanged")
    run = dict(examples=examples, lr=2e-3, batch_size=4, seed=21)
    expect_same_losses(submission, reference, got[0], want[0], run, "the first call (3 steps)")
    if not close(got[1], want[1]):
        if close(got[1], want[0]):
            why = "the second call starts again from the first call's weights: finetune trains the model it is given, in place"
        else:
            why = (
                "the second call differs from the reference's: each call builds its own AdamW for the model as it is now "
                "and seeds itself from its own seed"
            )
        raise Misconception(why, f"second call: {[round(x, 4) for x in got[1]]}, the reference's {[round(x, 4) for x in want[1]]}")
    expect_close(got[1], want[1], "the losses of the second call", rtol=LOSS_RTOL, atol=LOSS_ATOL)
    for name, p in ref_model.state_dict().items():
        expect_close(model.state_dict()[name], p, f"after two calls, {name} differs from the reference's", rtol=1e-3, atol=1e-6)
    untouched = fresh_model()
    state = copy.deepcopy(untouched.state_dict())
    expect_equal(losses_of(submission.finetune(untouched, examples, 0, 2e-3, 4, 1), 0, "0 steps"), [], "finetune for 0 steps returns []")
    expect(
        all(_equal(t, state[k]) for k, t in untouched.state_dict().items()),
        "finetune for 0 steps must leave the model's weights as they were",
    )


def test_exact_match_rises_on_heldout_prompts(submission, reference, reference_mask, your_long_run):
    """after 300 steps your model answers the held-out prompts about as well as the reference's (about 0 before), its early losses the reference's"""
    _, want_losses, before, after = reference_long_run(reference)
    expect_self_check(before <= 0.05, True, "an untrained model answering held-out prompts")
    expect_self_check(after >= 0.6, True, "the reference's exact match after fine-tuning")
    model, losses = your_long_run
    losses = losses_of(losses, STEPS, "the long run")
    run = dict(examples=TRAIN, lr=LR, batch_size=BATCH, seed=SEED)
    if not close(losses[:EARLY], want_losses[:EARLY]):
        expect_same_losses(submission, reference, losses[:EARLY], want_losses[:EARLY], run, f"the first {EARLY} of {STEPS} steps")
    expect_close(losses[:EARLY], want_losses[:EARLY], f"the first {EARLY} losses of the long run", rtol=LOSS_RTOL, atol=LOSS_ATOL)
    mine = exact_match(model, HELDOUT, reference.respond)
    n = len(HELDOUT)
    expect(
        mine >= MIN_SHARE * after,
        "after fine-tuning your model answers far fewer held-out prompts than the reference's from the same start: "
        "check that every step trains on the response tokens only and that the optimizer keeps its state",
        f"exact match on {n} held-out prompts: yours {mine:.2f} ({round(mine * n)} right), the reference's {after:.2f} "
        f"({round(after * n)}), before training {before:.2f}; the last losses: yours {sum(losses[-20:]) / 20:.3f}, "
        f"the reference's {sum(want_losses[-20:]) / 20:.3f}",
    )


# -- respond --------------------------------------------------------------------------------------
def replies_of(submission, model, prompts, max_new_tokens=16):
    out = []
    for prompt in prompts:
        reply = submission.respond(model, prompt, max_new_tokens)
        expect(isinstance(reply, str), "respond returns the reply as text, a str", f"got {type(reply).__name__}")
        out.append(reply)
    return out


def diagnose_replies(got, want, prompts, forwards) -> str:
    if any(mode for _, mode, _ in forwards):
        return TRAIN_MODE_GEN
    if any(grad for _, _, grad in forwards):
        return NO_GRAD
    for g, w, p in zip(got, want, prompts):
        if g != w and p in g:
            return REPLY_ONLY
        if g != w and (g.startswith(w + "<|end|>") or (g.startswith(w) and len(g) > len(w))):
            return NO_STOP
    return "respond's replies differ from greedy decoding's: the argmax of the last position's logits, one id at a time"


def test_respond_gives_the_greedy_reply(submission, reference, reference_mask):
    """on the reference's fine-tuned model, handed over in train mode, respond gives the reference's replies and stops at <|end|>"""
    model = trained_reference_model(reference)
    prompts = [p.prompt for p in HELDOUT[:24]] + ["max: fedcba", "length: a"]
    model.train()
    want = [reference.respond(model, p) for p in prompts]
    expect_self_check(model.training, True, "the reference gives the model back in train mode")
    model.train()
    seen, handle = recorded_forwards(model)
    try:
        got = replies_of(submission, model, prompts)
    finally:
        handle.remove()
    if got != want:
        bad = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
        raise Misconception(diagnose_replies(got, want, prompts, seen), f"prompt {prompts[bad]!r}: reply {got[bad]!r}, expected {want[bad]!r}")
    expect_equal(got, want, "respond's replies")
    expect(not any(mode for _, mode, _ in seen), TRAIN_MODE_GEN, "a forward ran in train mode")
    expect(not any(grad for _, _, grad in seen), NO_GRAD, f"autograd was on in {sum(g for _, _, g in seen)} of {len(seen)} forwards")
    expect(model.training, MODE_BACK, "the model came in train mode and went back in eval mode")


def test_respond_limits_mode_and_weights(submission, reference, reference_mask):
    """respond writes at most max_new_tokens ids, stops at block_size, keeps the model's mode and weights, and gives the same reply twice"""
    model = fresh_model(seed=4)  # untrained: it seldom says <|end|>, so the limits decide where a reply ends
    state = copy.deepcopy(model.state_dict())
    cases = [("first: abc", 0), ("first: abc", 1), ("max: ab", 5), ("length: abcdefabcdef", 40), ("count a: fadeca", 16)]
    want = [reference.respond(model, p, n) for p, n in cases]
    for (prompt, n), w in zip(cases, want):
        for mode in (False, True):
            model.train(mode)
            try:
                got = submission.respond(model, prompt, n)
            except ValueError as e:
                if "block_size" in str(e):
                    raise Misconception(BLOCK, f"prompt {prompt!r}, max_new_tokens={n}: {e}") from None
                raise
            expect(model.training == mode, MODE_BACK, f"the model came in {'train' if mode else 'eval'} mode and went back in "
                                                      f"{'train' if model.training else 'eval'} mode")  # fmt: skip
            expect(isinstance(got, str), "respond returns the reply as text, a str", f"got {type(got).__name__}")
            if got != w:
                ids, want_ids = TOKENIZER.encode(got, allow_special=True), TOKENIZER.encode(w, allow_special=True)
                if len(ids) > n:
                    why = f"respond writes at most max_new_tokens ids: {len(ids)} for max_new_tokens={n}"
                elif n > CONFIG["block_size"] and len(ids) != len(want_ids) and (got.startswith(w) or w.startswith(got)):
                    why = BLOCK
                else:
                    why = diagnose_replies([got], [w], [prompt], [])
                raise Misconception(why, f"prompt {prompt!r}, max_new_tokens={n}, model in {'train' if mode else 'eval'} mode: reply {got!r}, expected {w!r}")
            expect_equal(got, w, f"respond's reply to {prompt!r} with max_new_tokens={n}")
    changed = [k for k, t in model.state_dict().items() if not _equal(t, state[k])]
    expect(not changed, "respond changed the model's weights: decoding only reads them", f"changed: {changed[:4]}")


def test_on_the_gpu(submission, reference, reference_mask):
    """on a GPU, where there is one, finetune trains the model where it lies and respond decodes there"""
    if not torch.cuda.is_available():
        model = fresh_model()  # the same calls on the CPU: the check without a GPU
        losses_of(submission.finetune(model, list(TRAIN[:16]), 2, 1e-3, 4, 5), 2, "2 steps on the CPU")
        expect(isinstance(submission.respond(model, "max: ab", 3), str), "respond returns the reply as text, a str")
        return
    model = fresh_model().cuda()
    want = reference.finetune(fresh_model().cuda(), list(TRAIN[:16]), 2, 1e-3, 4, 5)
    got = losses_of(submission.finetune(model, list(TRAIN[:16]), 2, 1e-3, 4, 5), 2, "2 steps on the GPU")
    expect(all(p.device.type == "cuda" for p in model.parameters()), "finetune leaves the model on its device")
    expect(
        close(got, want) or all(abs(a - b) < 1e-2 * abs(b) for a, b in zip(got, want)),
        "on the GPU the losses differ from the reference's: move each batch to the model's device",
        f"yours {got}, the reference's {want}",
    )
    expect_equal(submission.respond(model, "max: ab", 3), reference.respond(model, "max: ab", 3), "respond on the GPU")
