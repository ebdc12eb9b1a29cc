"""The supervised fine-tuning lesson (p4.sft): what tests/test_graders.py does not already prove.

The generated instructions and the chat tokenizer keep their promises (answers right, held-out prompts
never in training, special tokens never from text); the reference gives the values worked out by hand;
the graders' diagnosis helpers name the mistake their values show; a crash in the learner's collate is
reported with the learner's line; the drawn answers of the reasoning checks agree with what the
reference computes, their declared wrong answers are rejected, and each rubric accepts its own
explanation but not a vague one.
"""

import functools
import importlib.util
import math
import random
import tempfile
from pathlib import Path

import pytest
import torch

from mentor.authoring import compose_submission, grade_file
from mentor.checks import evaluate, expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import draw
from mentor.lab import GPT, GPTConfig
from mentor.lab.tasks import (
    QUICK_TASKS,
    TASKS,
    TOKENIZER,
    Pair,
    exact_match,
    instruction_split,
    is_correct as reply_is_correct,
    make_pair,
)
from mentor.paths import GRADERS_DIR, content_root

COURSE = load_course(content_root())
STEP_IDS = {s.id for s in COURSE.steps}
MASK, FINETUNE = "p4.sft.mask", "p4.sft.finetune"
pytestmark = pytest.mark.slow  # graders that train models, run many times over: the slow sweep
IGNORE = -100


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def reference():
    return load(COURSE.content_root / "solutions" / "phase4" / "sft.py", "sft_reference")


@functools.cache
def grader(name: str):
    return load(GRADERS_DIR / "phase4" / f"{name}.py", f"grader_{name}")


def ids(text: str) -> list[int]:
    return TOKENIZER.encode(text)


# -- mentor.lab.tasks ---------------------------------------------------------------------------
def test_the_tokenizer_gives_each_printable_character_an_id_and_keeps_four_for_the_template():
    assert TOKENIZER.vocab_size == 4 + 95 <= 128
    assert (TOKENIZER.pad_id, TOKENIZER.user_id, TOKENIZER.assistant_id, TOKENIZER.end_id) == (0, 1, 2, 3)
    text = "".join(chr(c) for c in range(32, 127))
    assert TOKENIZER.decode(TOKENIZER.encode(text)) == text
    assert sorted(TOKENIZER.encode(text)) == list(range(4, 99))


def test_special_tokens_come_from_text_only_when_asked():
    assert TOKENIZER.encode("<|end|>") == ids("<") + ids("|") + ids("end") + ids("|") + ids(">")
    assert TOKENIZER.encode("a<|end|>b", allow_special=True) == [*ids("a"), TOKENIZER.end_id, *ids("b")]
    assert TOKENIZER.decode([TOKENIZER.user_id, *ids("hi"), TOKENIZER.end_id]) == "<|user|>hi<|end|>"
    with pytest.raises(ValueError, match="printable ASCII"):
        TOKENIZER.encode("café")


def test_every_task_answers_its_prompt():
    rng = random.Random(7)
    rules = {
        "first": lambda w: w[0],
        "length": lambda w: str(len(w)),
        "max": max,
        "reverse": lambda w: w[::-1],
        "sort": lambda w: "".join(sorted(w)),
    }
    for task in TASKS:
        for _ in range(50):
            pair = make_pair(task, rng)
            head, _, argument = pair.prompt.partition(": ")
            if task == "count":
                assert pair.response == str(argument.count(head.split()[1]))
            elif task == "add":
                a, b = map(int, argument.split("+"))
                assert pair.response == str(a + b)
            else:
                assert head == task and pair.response == rules[task](argument)
            TOKENIZER.encode(pair.prompt + pair.response)  # printable ASCII only
    with pytest.raises(ValueError, match="unknown task"):
        make_pair("translate", rng)


def test_the_split_is_seeded_and_no_heldout_prompt_is_trained_on():
    train, heldout = instruction_split(2000, 96, seed=0, tasks=QUICK_TASKS)
    assert len(train) == 2000 and len(heldout) == 96
    assert not {p.prompt for p in train} & {p.prompt for p in heldout}
    assert len({p.prompt for p in train}) == 2000
    assert instruction_split(2000, 96, seed=0, tasks=QUICK_TASKS) == (train, heldout)
    assert instruction_split(2000, 96, seed=1, tasks=QUICK_TASKS) != (train, heldout)
    assert {p.prompt.split(":")[0] for p in heldout} == set(QUICK_TASKS)
    with pytest.raises(ValueError, match="different prompts"):
        instruction_split(500, 0, seed=0, tasks=("add",))  # 400 sums of two numbers below 20


def test_exact_match_counts_replies_equal_to_the_response():
    pairs = [Pair("max: ab", "b"), Pair("first: cab", "c"), Pair("length: abc", "3")]
    replies = {"max: ab": "b", "first: cab": "c ", "length: abc": "3"}
    assert exact_match(None, pairs, lambda model, prompt, n: replies[prompt]) == pytest.approx(2 / 3)
    assert reply_is_correct(pairs[0], "b") and not reply_is_correct(pairs[0], "b<|end|>")
    with pytest.raises(ValueError):
        exact_match(None, [], lambda *a: "")


# -- the reference, against values worked out by hand ---------------------------------------------
def test_the_reference_renders_and_labels_as_worked_out_by_hand():
    ref = reference()
    U, A, E = TOKENIZER.user_id, TOKENIZER.assistant_id, TOKENIZER.end_id
    assert ref.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]) == [U, *ids("hi"), E, A, *ids("yo"), E]
    assert ref.render([{"role": "user", "content": "<|end|>"}]) == [U, *ids("<|end|>"), E]
    input_ids, labels = ref.build_example("max: ab", "b", 32)
    assert input_ids == [U, *ids("max: ab"), E, A, *ids("b")]  # 11 ids
    assert labels == [IGNORE] * 9 + [*ids("b"), E]


def test_the_reference_cuts_the_prompt_from_its_start():
    ref = reference()
    U, A, E = TOKENIZER.user_id, TOKENIZER.assistant_id, TOKENIZER.end_id
    input_ids, labels = ref.build_example("abcdef", "xy", 8)  # 6 + 2 + 3 = 11 ids: 3 prompt characters go
    assert input_ids == [U, *ids("def"), E, A, *ids("xy")]
    assert labels == [IGNORE] * 5 + [*ids("xy"), E]
    assert ref.build_example("abcdef", "xy", 5)[0] == [U, E, A, *ids("xy")]
    with pytest.raises(ValueError):
        ref.build_example("abcdef", "xy", 4)


def test_the_reference_right_pads_and_averages_per_token():
    ref = reference()
    short, long = ([5, 6], [IGNORE, 7]), ([5, 6, 8, 9], [IGNORE, 7, 8, 3])
    input_ids, labels, mask = ref.collate([short, long], pad_id=11)
    assert input_ids.tolist() == [[5, 6, 11, 11], [5, 6, 8, 9]]
    assert labels.tolist() == [[IGNORE, 7, IGNORE, IGNORE], [IGNORE, 7, 8, 3]]
    assert mask.dtype == torch.bool and mask.tolist() == [[True, True, False, False], [True] * 4]
    logits = torch.zeros(2, 4, 12, dtype=torch.float64)
    logits[0, 1, 7] = math.log(3.0)  # p(7) = 3 / 14 at that position, 1 / 14 elsewhere
    want = (-math.log(3 / 14) + 3 * math.log(12)) / 4  # one mean over the four supervised tokens
    assert ref.sft_loss(logits, labels).item() == pytest.approx(want, rel=1e-12)


def tiny_model(seed=0, **changes):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=TOKENIZER.vocab_size, block_size=24, d_model=16, n_layers=1, n_heads=2, dropout=0.1)
    return GPT(GPTConfig(**{**cfg, **changes}))


def test_the_reference_finetune_is_reproducible_and_lowers_the_loss():
    ref = reference()
    train, _ = instruction_split(64, 0, seed=3, tasks=QUICK_TASKS)
    runs = [ref.finetune(tiny_model(), train, 30, 3e-3, 8, seed=5) for _ in range(2)]
    assert runs[0] == runs[1] and all(type(x) is float for x in runs[0])
    assert sum(runs[0][-5:]) < sum(runs[0][:5])
    assert ref.finetune(tiny_model(), train, 30, 3e-3, 8, seed=6) != runs[0]


class Always(torch.nn.Module):
    """A stand-in model whose next token is always `token`: respond's limits decide the reply's end."""

    def __init__(self, token, block_size=24):
        super().__init__()
        self.token, self.config = token, GPTConfig(block_size=block_size)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, TOKENIZER.vocab_size)
        logits[..., self.token] = 1.0
        return logits, None


def test_the_reference_reply_stops_at_the_end_marker_the_limit_and_block_size():
    ref = reference()
    assert ref.respond(Always(TOKENIZER.end_id), "max: ab") == ""
    x = ids("x")[0]
    assert ref.respond(Always(x), "max: ab", 5) == "xxxxx"
    assert ref.respond(Always(x), "max: ab", 40) == "x" * (24 - len(ids("max: ab")) - 3)  # the context fills up
    model = Always(x).train()
    ref.respond(model, "max: ab", 2)
    assert model.training


# -- the graders' diagnosis helpers ---------------------------------------------------------------
def test_the_label_diagnosis_names_each_classic_mistake():
    g = grader("test_sft_mask")
    seq = g.template("max: ab", "b")
    k = seq.index(TOKENIZER.assistant_id)
    right = [IGNORE] * k + seq[k + 1 :]
    cases = {
        g.PROMPT_IN_LOSS: seq[1:],
        g.ASSISTANT_TARGET: [IGNORE] * (k - 1) + seq[k:],
        g.END_MASKED: right[:-1] + [IGNORE],
        g.SHIFTED_TWICE: [IGNORE] * (k - 1) + seq[k + 1 :] + [IGNORE],
    }
    for why, labels in cases.items():
        assert g.diagnose_labels(seq[:-1], labels, seq) == why
    assert g.diagnose_labels(seq, [IGNORE] * (k + 1) + seq[k + 1 :], seq) == g.NOT_SHIFTED


def test_the_collate_diagnosis_tells_left_padding_from_pad_labels():
    g = grader("test_sft_mask")
    examples = [([5, 6], [IGNORE, 7]), ([5, 6, 8], [IGNORE, 7, 8])]
    left = torch.tensor([[9, 5, 6], [5, 6, 8]]), torch.tensor([[IGNORE, IGNORE, 7], [IGNORE, 7, 8]])
    assert g.diagnose_collate(*left, None, examples, 9) == g.LEFT_PAD
    pad_labels = torch.tensor([[5, 6, 9], [5, 6, 8]]), torch.tensor([[IGNORE, 7, 9], [IGNORE, 7, 8]])
    assert g.diagnose_collate(*pad_labels, None, examples, 9) == g.PAD_LABELS
    zeros = torch.tensor([[5, 6, 0], [5, 6, 8]]), torch.tensor([[IGNORE, 7, IGNORE], [IGNORE, 7, 8]])
    assert g.diagnose_collate(*zeros, None, examples, 9) == g.PAD_ID


def test_the_loss_variants_are_what_each_mistake_computes():
    g = grader("test_sft_mask")
    logits, labels = g.batch(1)
    variants = g.loss_variants(logits, labels)
    counts = (labels != IGNORE).sum(dim=1)
    per_row = [torch.nn.functional.cross_entropy(logits[b], labels[b], ignore_index=IGNORE) for b in range(len(labels))]
    assert torch.allclose(variants[g.PER_SEQUENCE], torch.stack(per_row).mean())
    assert torch.allclose(variants[g.PER_TOKEN_SUM], (torch.stack(per_row) * counts).sum())
    assert len({round(float(v), 6) for v in variants.values()}) == len(variants)  # each mistake shows as itself


def test_the_reply_diagnosis_reads_the_forwards_and_the_text():
    g = grader("test_sft_finetune")
    assert g.diagnose_replies(["b"], ["c"], ["max: ab"], [(None, True, False)]) == g.TRAIN_MODE_GEN
    assert g.diagnose_replies(["b"], ["c"], ["max: ab"], [(None, False, True)]) == g.NO_GRAD
    assert g.diagnose_replies(["b<|end|>max"], ["b"], ["max: ab"], []) == g.NO_STOP
    assert g.diagnose_replies(["max: abb"], ["b"], ["max: ab"], []) == g.REPLY_ONLY


def test_the_replayed_flaws_differ_from_the_reference_loop():
    g = grader("test_sft_finetune")
    ref = reference()
    run = dict(examples=g.TRAIN[:32], lr=3e-3, batch_size=4, seed=2)
    right = g.simulate(ref, run["examples"], 4, run["lr"], run["batch_size"], run["seed"])
    assert g.close(right, ref.finetune(g.fresh_model(), list(run["examples"]), 4, run["lr"], run["batch_size"], run["seed"]))
    for flaw in g.FLAWS:
        assert not g.close(right, g.simulate(ref, run["examples"], 4, run["lr"], run["batch_size"], run["seed"], flaw)), flaw


# -- a crash in the learner's code ---------------------------------------------------------------
CRASHING_COLLATE = '''
def collate(examples, pad_id):
    T = max(len(ids) for ids, _ in examples)
    return torch.stack([torch.tensor(ids) for ids, _ in examples]), None, None  # rows of different lengths
'''


def test_a_crash_in_collate_names_the_learners_line():
    step = COURSE.step(MASK)
    with tempfile.TemporaryDirectory(prefix="mentor-sft-") as tmp:
        result = grade_file(COURSE, step, compose_submission(COURSE, step, Path(tmp), CRASHING_COLLATE), Path(tmp))
    crashed = [t for t in result.tests if t.kind == "exception"]
    assert result.status == "failed" and crashed, [(t.name, t.kind, t.message) for t in result.tests]
    assert any(t.where.rpartition(":")[0].endswith("sft.py") and "torch.stack" in t.line for t in crashed)
    assert all(t.outcome == "passed" for t in result.tests if "render" in t.name or "label" in t.name)


# -- the reasoning checks -------------------------------------------------------------------------
def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def drawn(step_id: str, check_id: str, learners=8):
    c = check(step_id, check_id)
    return [(c, d, float(expected_answer(c, d))) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def _supervised_tokens(P, R):
    _, labels = reference().build_example("a" * P, "b" * R, P + R + 3)
    return sum(label != IGNORE for label in labels)


def _supervised_share(P1, R1, P2, R2):
    ref = reference()
    examples = [ref.build_example("a" * p, "b" * r, 128) for p, r in ((P1, R1), (P2, R2))]
    _, labels, _ = ref.collate(examples, TOKENIZER.pad_id)
    return float((labels != IGNORE).float().mean())


def _decode_positions(P, R):
    """Positions respond runs through a model that writes R characters and then the end marker."""
    seen = []

    class Scripted(Always):
        def forward(self, idx):
            seen.append(idx.shape[1])
            token = ids("x")[0] if len(seen) <= R else TOKENIZER.end_id
            return Always(token).forward(idx)

    reply = reference().respond(Scripted(0, block_size=256), "a" * P, max_new_tokens=64)
    assert reply == "x" * R
    return sum(seen)


def test_the_numeric_answers_follow_from_the_reference():
    worked = {
        (MASK, "supervised-tokens"): _supervised_tokens,
        (MASK, "supervised-share"): _supervised_share,
        (MASK, "batch-loss"): lambda nA, lA, nB, lB: (nA * lA + nB * lB) / (nA + nB),
        (FINETUNE, "decode-positions"): _decode_positions,
        (FINETUNE, "distinct-examples"): lambda N, B, S: N * (1 - (1 - 1 / N) ** (B * S)),
    }
    for (step_id, check_id), work in worked.items():
        for c, d, expected in drawn(step_id, check_id):
            want = work(**{k: (int(v) if float(v).is_integer() else v) for k, v in d.params.items()})
            assert math.isclose(expected, want, rel_tol=c.answer.tolerance / 10 or 1e-9), (check_id, d.params)
            assert is_correct(c, repr(want), d), (check_id, d.params)


def test_the_classic_wrong_answers_are_rejected():
    for step_id in (MASK, FINETUNE):
        for c in COURSE.step(step_id).checks:
            for _, d, _ in drawn(step_id, c.id, learners=4) if c.params else []:
                for wrong in c.answer.wrong or []:
                    value = evaluate(wrong.formula, d.params) if wrong.formula else wrong.numeric
                    assert not is_correct(c, repr(value), d), (c.id, d.params, wrong.formula)
            if c.answer.choice:
                assert all(o.why for i, o in enumerate(c.options) if chr(ord("a") + i) != c.answer.choice)


def test_the_rubrics_accept_their_own_explanation_and_reject_a_vague_answer():
    prompt_check = check(MASK, "why-mask-the-prompt")
    assert is_correct(prompt_check, prompt_check.explain)
    assert is_correct(prompt_check, "It would learn to write the user's questions, and the long prompts would dominate the gradient.")
    assert not is_correct(prompt_check, "Because the loss would be wrong.")
    heldout_check = check(FINETUNE, "why-held-out")
    assert is_correct(heldout_check, heldout_check.explain)
    assert is_correct(heldout_check, "It could just memorise the answers it was trained on; only unseen prompts test the skill.")
    assert not is_correct(heldout_check, "The score would be too high.")
