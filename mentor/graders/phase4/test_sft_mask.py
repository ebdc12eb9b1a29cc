"""Grader: the chat template, labels on the response only, right padding, and the per-token mean loss.

Expected ids come from the reference and from the template written out by hand; expected losses and
gradients from F.cross_entropy(ignore_index=-100), all computed before the learner's function runs.
When a value differs, the grader builds the classic mistakes (labels not shifted, the prompt in the
loss, the end marker masked, left padding, a mean per sequence, ...) from the same inputs and names
the one that reproduces the learner's value; otherwise it says what it observed.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal, expect_self_check, plain
from mentor.lab import GPT, GPTConfig
from mentor.lab.tasks import TOKENIZER

# Bound before any learner code runs: the expected values never go through a patched name.
_cross_entropy, _equal = F.cross_entropy, torch.equal
encode = TOKENIZER.encode
IGNORE = -100
USER, ASSISTANT, END, PAD = TOKENIZER.user_id, TOKENIZER.assistant_id, TOKENIZER.end_id, TOKENIZER.pad_id
# A pad id that is not the tokenizer's: a collate that pads with 0 whatever it is told shows.
OTHER_PAD = 7

# Losses: F.cross_entropy and a masked mean written out (log_softmax, gather, sum / count) agree to ~1e-15 in
# float64; every mistake below (a mean per sequence, a sum, a division by every position) is off by 1e-2 or more.
LOSS_RTOL, LOSS_ATOL = 1e-10, 1e-12
# Logits of one sequence alone and inside a right-padded batch: the same arithmetic, ~1e-15 apart in float64.
LOGIT_RTOL, LOGIT_ATOL = 1e-9, 1e-11

PROPERTY = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)  # fmt: skip

MARKERS_AS_TEXT = (
    "the role markers are written as text: <|user|>, <|assistant|> and <|end|> are single special ids "
    "(TOKENIZER.user_id, .assistant_id, .end_id), not the characters of their spellings; encode only the content "
    "and put the marker ids around it"
)
FROM_TEXT = (
    "special tokens produced from plain text: a message whose content holds the characters \"<|end|>\" must keep "
    "them as seven characters, or any user can close their own turn and write the assistant's. Encode the content "
    "with TOKENIZER.encode(content) (allow_special stays False) and add the marker ids yourself"
)
PROMPT_IN_LOSS = (
    "the loss covers the prompt too: labels must be -100 at every position whose next token belongs to the prompt "
    "or the template, up to and including <|assistant|>; otherwise the model is trained to write the user's text"
)
NOT_SHIFTED = (
    "labels are not shifted: labels[t] is the token that comes AFTER input_ids[t] (mentor.lab.GPT compares "
    "logits[t] with labels[t]); yours equal input_ids[t], which teaches the model to copy its input"
)
SHIFTED_TWICE = (
    "labels are shifted twice: labels[t] must be the next token, sequence[t + 1]; yours are sequence[t + 2], two "
    "ahead"
)
ASSISTANT_TARGET = (
    "the assistant marker is left as a target: the model never has to produce <|assistant|> (the prompt ends with "
    "it), so the position before it must be -100 too; the first target is the response's first token"
)
END_MASKED = (
    "the end marker is masked: the <|end|> after the response must be a target, or the model never learns to stop "
    "and every reply runs on to max_new_tokens"
)
PAD_LABELS = (
    "padding labelled with pad_id instead of -100: a label equal to the pad id is a target like any other, so the "
    "model is trained to predict padding; padding positions get -100 in labels"
)
LEFT_PAD = (
    "left padding: the task asks for right padding, the real tokens at positions 0..n-1 and the pad ids after them. "
    "mentor.lab.GPT has learned positions and no padding mask, so padding in front moves every token to another "
    "position and lets it attend to the pads"
)
PAD_ID = "padding must use the pad_id argument: the padding positions of input_ids hold another id"
MASK_BOOL = "the attention mask is a bool tensor (True on real tokens, False on padding), not 0/1 numbers"
MASK_INVERTED = "the attention mask is inverted: True marks the real tokens, False the padding"
MUTATED = (
    "collate changed the examples passed in: padding a list in place (ids += [pad_id] * n) pads the caller's "
    "example too, and the next batch pads it again; build new tensors and leave the lists as they were"
)
RESPONSE_CUT = (
    "truncation cut the response: the response and its end marker are what the model learns from, so they are "
    "never cut; the prompt gives up characters from its start until the example fits"
)
PROMPT_START_KEPT = (
    "truncation kept the start of the prompt: the task cuts the prompt from its start (the most recent text, next "
    "to the answer, stays), so keep its last characters"
)
MARKERS_CUT = (
    "truncation cut the template markers: the example must still start with <|user|> and have <|end|><|assistant|> "
    "before the response; only the prompt's characters give way"
)
PER_SEQUENCE = (
    "the loss is a mean per sequence: the task's loss is one mean over every supervised token of the batch (as "
    "F.cross_entropy with ignore_index gives), so a sequence weighs as many tokens as it supervises; averaging "
    "each sequence first gives a short response the weight of a long one"
)
PER_TOKEN_SUM = "the loss is summed over the supervised tokens, not averaged: divide by their number"
ALL_POSITIONS = (
    "the loss divides by every position, padding and prompt included: average over the supervised tokens only "
    "(labels != -100), or adding padding changes the loss"
)
SHIFT_IN_LOSS = (
    "sft_loss shifts the logits again: the labels from build_example are already shifted (labels[t] is the target "
    "of logits[t]), so compare logits[:, t] with labels[:, t] directly"
)


def ids_of(value, what: str) -> list:
    """The learner's ids as a list of ints, or a Misconception naming what came back."""
    got = plain(value, f"{what} returns a list of int ids")
    expect(isinstance(got, list), f"{what} returns a list of int ids", f"got {type(value).__name__}")
    expect(all(type(i) is int for i in got), f"{what} returns a list of int ids", f"got {got[:12]}")
    return got


def template(prompt: str, response: str) -> list[int]:
    """The whole sequence of one exchange, written out: <|user|> prompt <|end|> <|assistant|> response <|end|>."""
    return [USER, *encode(prompt), END, ASSISTANT, *encode(response), END]


def user_turn(content: str) -> list[int]:
    return [USER, *encode(content), END]


def as_text(ids) -> str:
    """The ids as text to show, an id outside the vocabulary as <?>."""
    return "".join(TOKENIZER.decode([i]) if 0 <= i < TOKENIZER.vocab_size else "<?>" for i in ids)


# -- render ---------------------------------------------------------------------------------------
def render_of(submission, messages) -> list:
    before = copy.deepcopy(messages)
    got = ids_of(submission.render(messages), "render")
    expect(messages == before, "render must leave the messages it is given unchanged", f"after: {messages!r}")
    return got


def diagnose_render(got: list, messages) -> str:
    spelled = [i for m in messages for i in encode(f"<|{m['role']}|>{m['content']}<|end|>")]
    end_text = encode("<|end|>")
    if got == spelled or _count(got, end_text) > sum(_count(encode(m["content"]), end_text) for m in messages):
        return MARKERS_AS_TEXT
    without_user_end = [i for m in messages for i in ([ASSISTANT if m["role"] == "assistant" else USER, *encode(m["content"])]
                                                       + ([END] if m["role"] == "assistant" else []))]
    if got == without_user_end:
        return "every message ends with <|end|>, the user's as well as the assistant's: <|role|> content <|end|>"
    without_end = [i for m in messages for i in (ASSISTANT if m["role"] == "assistant" else USER, *encode(m["content"]))]
    if got == without_end:
        return "every message ends with the end marker: <|role|> content <|end|>, each role marker the special id"
    return "render gives each message as its role's marker id, the ids of its content and the end marker, in order"


def _count(ids: list, part: list) -> int:
    return sum(ids[i : i + len(part)] == part for i in range(len(ids) - len(part) + 1))


def _contains(ids: list, part: list) -> bool:
    return any(ids[i : i + len(part)] == part for i in range(len(ids) - len(part) + 1))


def test_render_one_message(submission, reference):
    """a user message renders as <|user|>, the ids of its characters, <|end|>"""
    messages = [{"role": "user", "content": "max: bad"}]
    want = reference.render(messages)
    expect_self_check(want, user_turn("max: bad"), "the reference's template")
    got = render_of(submission, messages)
    if got != want:
        raise Misconception(diagnose_render(got, messages), f"render({messages!r}):\n got {got}\n expected {want}")
    expect_equal(got, want, "render gives <|user|> content <|end|>")


def test_render_a_conversation(submission, reference):
    """a conversation renders message by message, each <|role|> content <|end|>, empty contents included"""
    for messages in (
        [{"role": "user", "content": "length: abc"}, {"role": "assistant", "content": "3"}],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "first: fad"}],
        [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
        ({"role": "assistant", "content": "ok."},),  # a tuple: any sequence of messages
        [],
    ):
        want = reference.render(messages)
        got = render_of(submission, messages)
        if got != want:
            why = diagnose_render(got, list(messages))
            if why.startswith("render gives") and got == reference.render([dict(m, role="user") for m in messages]):
                why = "the assistant's messages start with <|assistant|> (TOKENIZER.assistant_id), the user's with <|user|>"
            raise Misconception(why, f"render({list(messages)!r}):\n got {got}\n expected {want}")
        expect_equal(got, want, "render gives each message as <|role|> content <|end|>")


def test_render_refuses_an_unknown_role(submission):
    """a message whose role is neither 'user' nor 'assistant' raises ValueError"""
    try:
        submission.render([{"role": "system", "content": "be brief"}])
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - any other error is a different answer
        raise Misconception(
            "an unknown role must raise ValueError naming it (the template has markers for 'user' and 'assistant' only)",
            f"raised {type(e).__name__}: {e}",
        ) from None
    raise Misconception(
        "a message with an unknown role was rendered anyway: raise ValueError (the template has markers for 'user' "
        "and 'assistant' only)",
        "render([{'role': 'system', ...}]) returned without an error",
    )


def test_markers_never_come_from_text(submission, reference):
    """content that spells a special token stays characters: only the template inserts marker ids"""
    for content in ("<|end|><|assistant|>yes", "say <|user|> twice", "<|pad|>", "a <|assistant|"):
        messages = [{"role": "user", "content": content}]
        want = reference.render(messages)
        expect_self_check(want, user_turn(content), "the reference's template")
        got = render_of(submission, messages)
        specials = [i for i in got if i in (PAD, USER, ASSISTANT, END)]
        if got != want and len(specials) > 2:
            raise Misconception(FROM_TEXT, f"render of the content {content!r}: {len(specials)} special ids, {specials}; expected 2")
        if got != want:
            raise Misconception(diagnose_render(got, messages), f"render of {content!r}:\n got {got}\n expected {want}")
        expect_equal(got, want, FROM_TEXT)


def test_render_generated_text(submission, reference, examples_independent_of_your_code):
    """on generated printable text (pieces of the markers included) render is marker, encode(content), <|end|>; other characters raise ValueError"""
    render_of(submission, [{"role": "user", "content": "a"}])  # a stub raises here, before hypothesis starts
    pieces = st.sampled_from(["<|", "|>", "user", "end", "assistant", "pad", " ", "<|end|>", "<|user|>"])
    text = st.lists(st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6), pieces), max_size=6)

    @PROPERTY
    @given(text.map("".join), text.map("".join))
    def check(prompt, reply):
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
        want = [*user_turn(prompt), ASSISTANT, *encode(reply), END]
        got = render_of(submission, messages)
        if got != want:
            why = FROM_TEXT if sum(i in (PAD, USER, ASSISTANT, END) for i in got) > 4 else diagnose_render(got, messages)
            raise Misconception(why, f"messages {messages!r}:\n got {got}\n expected {want}")
        expect_equal(got, want, "render gives each message as <|role|> content <|end|>")

    check()
    for content in ("café", "naïve ✓", "tab\there"):
        try:
            submission.render([{"role": "user", "content": content}])
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001
            raise Misconception(
                "a character the tokenizer has no id for must raise the tokenizer's ValueError (TOKENIZER.encode raises it)",
                f"content {content!r}: raised {type(e).__name__}: {e}",
            ) from None
        raise Misconception(
            "a character outside printable ASCII has no id: render must let TOKENIZER.encode's ValueError through, "
            "not drop or replace the character",
            f"content {content!r} was rendered without an error",
        )


@pytest.fixture
def examples_independent_of_your_code(monkeypatch):
    """Hypothesis mixes into its examples the constants written in local modules, your file among them: the
    generated inputs would then depend on your code and could not be checked again against the reference's run.
    While a property test runs, it draws from its own constants only."""
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


# -- build_example --------------------------------------------------------------------------------
def example_of(submission, prompt, response, max_len):
    out = submission.build_example(prompt, response, max_len)
    expect(
        isinstance(out, (tuple, list)) and len(out) == 2,
        "build_example returns a pair (input_ids, labels)",
        f"got {type(out).__name__}",
    )
    ids, labels = ids_of(out[0], "build_example's input_ids"), ids_of(out[1], "build_example's labels")
    expect(
        len(ids) == len(labels),
        "input_ids and labels have the same length: labels[t] is the target of position t",
        f"len(input_ids) = {len(ids)}, len(labels) = {len(labels)}",
    )
    return ids, labels


def diagnose_labels(ids: list, labels: list, seq: list) -> str:
    """The mistake that `labels` show for the full sequence `seq` (<|user|> ... <|end|>), or a description."""
    k = seq.index(ASSISTANT)  # position k (input <|assistant|>) has the first target, seq[k + 1]
    sup = [t for t, label in enumerate(labels) if label != IGNORE]
    if not sup:
        return "no label carries a loss: the response's tokens and the final <|end|> are the targets"
    if len(sup) > 1 and all(t < len(ids) and labels[t] == ids[t] for t in sup):
        return NOT_SHIFTED
    if all(t + 2 < len(seq) and labels[t] == seq[t + 2] for t in sup) and len(sup) > 1:
        return SHIFTED_TWICE
    if any(t < k - 1 for t in sup):
        return PROMPT_IN_LOSS
    if k - 1 in sup and labels[k - 1] == ASSISTANT:
        return ASSISTANT_TARGET
    if labels[k:-1] == seq[k + 1 : -1] and labels[-1:] != [END]:
        return END_MASKED
    if len(labels) == len(seq) - 2 and labels == [IGNORE] * k + seq[k + 1 : -1]:
        return END_MASKED
    return "labels are -100 up to the position of <|assistant|>, then the response's tokens and <|end|>, each the next token"


def expect_example(submission, reference, prompt, response, max_len, where=""):
    want_ids, want_labels = reference.build_example(prompt, response, max_len)
    got_ids, got_labels = example_of(submission, prompt, response, max_len)
    seq = template(prompt, response)
    at = where or f"build_example({prompt!r}, {response!r}, {max_len})"
    if got_ids != want_ids:
        if got_ids == seq:
            why = NOT_SHIFTED if got_labels[-1] != IGNORE and got_labels[-1] == got_ids[-1] else (
                "input_ids is the sequence without its last token: the final <|end|> is only ever a target, nothing "
                "comes after it to predict"
            )
        elif _contains(got_ids, encode("<|assistant|>")) or _contains(got_ids, encode("<|end|>")):
            why = MARKERS_AS_TEXT
        else:
            why = "input_ids is the template, <|user|> prompt <|end|> <|assistant|> response, without the final <|end|>"
        raise Misconception(why, f"{at}: input_ids\n got {got_ids}\n expected {want_ids}")
    if got_labels != want_labels:
        raise Misconception(
            diagnose_labels(got_ids, got_labels, seq),
            f"{at}: labels\n got {got_labels}\n expected {want_labels}",
        )
    expect_equal([got_ids, got_labels], [want_ids, want_labels], "build_example's input_ids and labels")


def test_labels_supervise_the_response_only(submission, reference):
    """labels are -100 up to and including the <|assistant|> position's predecessor, then the response and <|end|>, shifted by one"""
    hand = reference.build_example("max: ab", "b", 32)
    seq = template("max: ab", "b")  # 12 ids: <|user|> 7 characters <|end|> <|assistant|> b <|end|>
    expect_self_check(hand, (seq[:-1], [IGNORE] * 9 + [encode("b")[0], END]), "the worked example")
    for prompt, response in (("max: ab", "b"), ("length: fadeca", "6"), ("reverse: fed", "def"), ("", "ok"), ("hi", "")):
        expect_example(submission, reference, prompt, response, 32)
    long_prompt = "length: " + "fadecab" * 44  # 316 characters: past any size a learner might hard-code
    expect_example(submission, reference, long_prompt, "308", 400)


def test_prompt_gets_exactly_zero_gradient(submission, reference):
    """prompt positions contribute exactly zero gradient to the loss, and a different prompt of the same length changes no label"""
    g = torch.Generator().manual_seed(3)
    for prompt, other, response in (("count a: abaca", "count f: fedcb", "3"), ("first: cab", "sort: abcd", "c")):
        ids, labels = example_of(submission, prompt, response, 32)
        seq = template(prompt, response)
        k = seq.index(ASSISTANT)
        logits = torch.randn(1, len(ids), TOKENIZER.vocab_size, generator=g, dtype=torch.float64, requires_grad=True)
        try:
            target = torch.tensor([labels])
            loss = _cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE)
            loss.backward()
        except (IndexError, RuntimeError) as e:
            raise Misconception(
                "labels must be token ids or -100: F.cross_entropy cannot read them",
                f"{type(e).__name__}: {str(e).splitlines()[0]}",
            ) from None
        grad = logits.grad[0].abs().sum(dim=-1)  # (T,): how much each position's logits move the loss
        leaking = [t for t in range(min(k, len(ids))) if grad[t] != 0]
        expect(
            not leaking,
            diagnose_labels(ids, labels, seq) if leaking else "",
            f"{prompt!r} -> {response!r}: nonzero gradient at prompt positions {leaking} (the prompt is positions 0..{k - 1})",
        )
        silent = [t for t in range(k, len(ids)) if grad[t] == 0]
        expect(
            not silent,
            diagnose_labels(ids, labels, seq) if silent else "",
            f"{prompt!r} -> {response!r}: zero gradient at response positions {silent} (positions {k}..{len(ids) - 1} carry the loss)",
        )
        _, other_labels = example_of(submission, other, response, 32)
        expect(
            other_labels == labels,
            PROMPT_IN_LOSS,
            f"labels of {prompt!r} and of {other!r} (same length, same response) differ: {labels} vs {other_labels}",
        )
    expect_example(submission, reference, "count a: abaca", "3", 32)


def test_truncation_cuts_the_prompt_from_its_start(submission, reference):
    """an example longer than max_len keeps the markers and the whole response, and drops the prompt's first characters"""
    prompt, response = "length: abcdefabcdef", "12"
    full = template(prompt, response)[:-1]  # 25 input ids: <|user|>, 20 characters, <|end|>, <|assistant|>, 1 and 2
    for max_len in (len(full) + 5, len(full), len(full) - 1, 12, 8, 6, 5):
        want_ids, _ = reference.build_example(prompt, response, max_len)
        got_ids, got_labels = example_of(submission, prompt, response, max_len)
        at = f"build_example({prompt!r}, {response!r}, max_len={max_len})"
        expect(
            len(got_ids) <= max_len,
            "an example longer than max_len must be cut to max_len tokens: input_ids has at most max_len ids",
            f"{at}: {len(got_ids)} input ids",
        )
        if got_ids != want_ids:
            keep = max_len - len(encode(response)) - 3
            start_kept = [USER, *encode(prompt)[: max(keep, 0)], END, ASSISTANT, *encode(response)]
            if not _contains(got_ids + got_labels[-1:], [*encode(response), END]):
                why = RESPONSE_CUT
            elif got_ids == start_kept:
                why = PROMPT_START_KEPT
            elif got_ids[:1] != [USER] or ASSISTANT not in got_ids:
                why = MARKERS_CUT
            else:
                why = "the prompt gives up characters from its start, the markers and the response stay whole"
            raise Misconception(why, f"{at}:\n got {as_text(got_ids)!r}\n expected {as_text(want_ids)!r}")
        expect_example(submission, reference, prompt, response, max_len, at)


def test_a_response_that_cannot_fit_raises(submission):
    """when the template and the response alone need more than max_len, build_example raises ValueError instead of cutting the response"""
    response = "abcdefghij"  # 10 characters + 3 template ids: 13 input ids at least
    for max_len in (12, 5):
        try:
            ids, _ = example_of(submission, "max: ab", response, max_len)
        except ValueError:
            continue
        raise Misconception(
            f"{RESPONSE_CUT}; and when the response and the template alone do not fit, raise ValueError",
            f"build_example('max: ab', {response!r}, max_len={max_len}) returned {as_text(ids)!r}",
        )


# -- collate --------------------------------------------------------------------------------------
def built(reference, pairs, max_len=32):
    return [tuple(reference.build_example(p, r, max_len)) for p, r in pairs]


PAIRS = [("max: ab", "b"), ("length: fadeca", "6"), ("first: cab", "c"), ("reverse: fed", "def")]


def collated(submission, examples, pad_id):
    before = copy.deepcopy(examples)
    out = submission.collate(examples, pad_id)
    expect(examples == before, MUTATED, f"examples after collate: {[len(ids) for ids, _ in examples]} ids (before: {[len(ids) for ids, _ in before]})")
    expect(
        isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(t, torch.Tensor) for t in out),
        "collate returns three tensors: (input_ids, labels, attention_mask)",
        f"got {type(out).__name__}",
    )
    return out


def diagnose_collate(ids, labels, mask, examples, pad_id):
    lengths = [len(e[0]) for e in examples]
    T = max(lengths)
    for b, (n, (x, y)) in enumerate(zip(lengths, examples)):
        if n == T:
            continue
        row, lab = ids[b].tolist(), labels[b].tolist()
        if row[T - n :] == list(x) and row[:1] != list(x[:1]):
            return LEFT_PAD
        if row[:n] == list(x) and row[n:] != [pad_id] * (T - n):
            return PAD_ID
        if lab[:n] == list(y) and lab[n:] == [pad_id] * (T - n):
            return PAD_LABELS
        if lab[:n] == list(y) and lab[n:] != [IGNORE] * (T - n):
            return "labels at padding positions must be -100, so that padding carries no loss"
    return "collate right-pads each example to the longest: ids then pad_id, labels then -100, the mask True on real tokens"


def expect_collated(submission, reference, examples, pad_id, where):
    want = reference.collate(examples, pad_id)
    ids, labels, mask = collated(submission, examples, pad_id)
    B, T = len(examples), max(len(e[0]) for e in examples)
    for name, t in (("input_ids", ids), ("labels", labels)):
        expect(t.dtype == torch.long, f"collate's {name} are token ids: a torch.long tensor", f"{where}: {name} is {t.dtype}")
    expect(mask.dtype == torch.bool, MASK_BOOL, f"{where}: attention_mask is {mask.dtype}")
    for name, t in (("input_ids", ids), ("labels", labels), ("attention_mask", mask)):
        expect(
            tuple(t.shape) == (B, T),
            f"collate pads to the longest example: each tensor is (batch, longest input_ids) = {(B, T)}",
            f"{where}: {name} has shape {tuple(t.shape)}",
        )
    if not _equal(ids, want[0]) or not _equal(labels, want[1]):
        raise Misconception(
            diagnose_collate(ids, labels, mask, examples, pad_id),
            f"{where}:\n input_ids {ids.tolist()}\n expected  {want[0].tolist()}\n labels {labels.tolist()}\n expected {want[1].tolist()}",
        )
    if not _equal(mask, want[2]):
        why = MASK_INVERTED if _equal(~mask, want[2]) else "the attention mask is True exactly on the real tokens of each row"
        raise Misconception(why, f"{where}: mask {mask.int().tolist()}, expected {want[2].int().tolist()}")
    expect_equal(
        [ids.flatten().tolist(), labels.flatten().tolist(), mask.flatten().tolist()],
        [want[0].flatten().tolist(), want[1].flatten().tolist(), want[2].flatten().tolist()],
        "collate's tensors",
    )


def test_collate_right_pads(submission, reference):
    """collate right-pads to the longest example: ids with pad_id, labels with -100, a bool mask True on real tokens"""
    examples = built(reference, PAIRS)
    expect_collated(submission, reference, examples, OTHER_PAD, f"4 examples of lengths {[len(e[0]) for e in examples]}, pad_id={OTHER_PAD}")
    expect_collated(submission, reference, examples[::-1], PAD, f"the same reversed, pad_id={PAD}")


def test_collate_edges(submission, reference):
    """collate takes one example, examples of equal length (no padding) and tuples, and leaves them unchanged"""
    one = built(reference, PAIRS[:1])
    expect_collated(submission, reference, one, PAD, "a single example")
    same = built(reference, [("max: ab", "b"), ("max: fe", "f")])
    expect_collated(submission, reference, same, PAD, "two examples of the same length")
    as_tuples = [(tuple(x), tuple(y)) for x, y in built(reference, PAIRS[1:3])]
    expect_collated(submission, reference, as_tuples, OTHER_PAD, "examples given as tuples of ids")
    again = built(reference, PAIRS)
    first = [t.clone() for t in collated(submission, again, PAD)]
    second = collated(submission, again, PAD)
    expect(all(_equal(a, b) for a, b in zip(first, second)), MUTATED, "a second collate of the same examples gave other tensors")


def tiny_gpt():
    torch.manual_seed(5)
    cfg = GPTConfig(vocab_size=TOKENIZER.vocab_size, block_size=32, d_model=16, n_layers=1, n_heads=2)
    return GPT(cfg).double().eval()


def test_padding_changes_nothing(submission, reference):
    """a short example gives the same logits and the same loss alone and right-padded beside a long one"""
    model = tiny_gpt()
    short, long = built(reference, [("max: ab", "b"), ("length: fadecabbe", "9")])
    with torch.no_grad():
        alone = model(torch.tensor([short[0]]))[0][0]  # (n, V)
    ids, labels, mask = collated(submission, [short, long], OTHER_PAD)
    expect(ids.dtype == torch.long and tuple(ids.shape) == (2, len(long[0])), "collate's input_ids: (B, longest) torch.long",
           f"got {ids.dtype} of shape {tuple(ids.shape)}")  # fmt: skip
    with torch.no_grad():
        logits = model(ids)[0]
    n = len(short[0])
    if not torch.allclose(logits[0, :n], alone, LOGIT_RTOL, LOGIT_ATOL):
        why = diagnose_collate(ids, labels, mask, [short, long], OTHER_PAD)
        raise Misconception(
            why if why in (LEFT_PAD, PAD_ID) else "padding changed the short example's logits: pad on the right, after the real tokens",
            f"largest change of the short example's logits: {float((logits[0, :n] - alone).abs().max()):.3g}",
        )
    expect_close(logits[0, :n], alone, "the short example's logits inside the batch", rtol=LOGIT_RTOL, atol=LOGIT_ATOL)
    # the batch's loss: one mean over the supervised tokens of both examples, whatever the padding
    targets = torch.tensor(short[1] + long[1])
    with torch.no_grad():
        flat = torch.cat([alone, model(torch.tensor([long[0]]))[0][0]])
    want = _cross_entropy(flat, targets, ignore_index=IGNORE)
    got = _cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
    if not torch.allclose(got, want, LOSS_RTOL, LOSS_ATOL):
        raise Misconception(diagnose_collate(ids, labels, mask, [short, long], OTHER_PAD), f"loss of the padded batch {float(got):.6f}, of the examples' tokens {float(want):.6f}")
    expect_close(got, want, "the padded batch's loss", rtol=LOSS_RTOL, atol=LOSS_ATOL)


# -- sft_loss -------------------------------------------------------------------------------------
def batch(seed, dtype=torch.float64):
    """Random logits for a collated batch of four examples with different numbers of supervised tokens."""
    ids, labels, _ = _reference_collate(PAIRS + [("sort: fedcba", "abcdef")])
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*ids.shape, TOKENIZER.vocab_size, generator=g, dtype=dtype) * 2
    return logits, labels


def _reference_collate(pairs):
    sequences = [template(p, r) for p, r in pairs]
    T = max(len(s) for s in sequences) - 1
    ids = torch.full((len(pairs), T), PAD, dtype=torch.long)
    labels = torch.full((len(pairs), T), IGNORE, dtype=torch.long)
    for b, s in enumerate(sequences):
        k = s.index(ASSISTANT)
        ids[b, : len(s) - 1] = torch.tensor(s[:-1])
        labels[b, k : len(s) - 1] = torch.tensor(s[k + 1 :])
    return ids, labels, ids != PAD


def loss_variants(logits, labels):
    """What the classic mistakes give on this batch."""
    per_token = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")  # (B, T), 0 where ignored
    counts = (labels != IGNORE).sum(dim=1)
    shifted = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE)
    return {
        PER_SEQUENCE: (per_token.sum(dim=1) / counts).mean(),
        PER_TOKEN_SUM: per_token.sum(),
        ALL_POSITIONS: per_token.sum() / labels.numel(),
        SHIFT_IN_LOSS: shifted,
    }


def loss_of(submission, logits, labels):
    before_logits, before_labels = logits.detach().clone(), labels.clone()
    got = submission.sft_loss(logits, labels)
    expect(isinstance(got, torch.Tensor), "sft_loss returns a tensor, which backward() can go through", f"got {type(got).__name__}")
    expect(got.dim() == 0, "sft_loss returns one number for the batch, a 0-dim tensor", f"got shape {tuple(got.shape)}")
    expect(
        _equal(logits.detach(), before_logits) and _equal(labels, before_labels),
        "sft_loss must leave the logits and the labels it is given unchanged",
    )
    return got


def test_loss_is_the_mean_over_supervised_tokens(submission):
    """sft_loss is one mean of the cross-entropy over every supervised token of the batch, as F.cross_entropy(ignore_index=-100) gives"""
    for seed in (1, 2):
        logits, labels = batch(seed)
        want = _cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
        got = loss_of(submission, logits, labels)
        if got.dtype == want.dtype and not torch.allclose(got, want, LOSS_RTOL, LOSS_ATOL):
            named = next((why for why, v in loss_variants(logits, labels).items() if torch.allclose(got, v, 1e-9, 1e-12)), None)
            raise Misconception(
                named or "sft_loss is the mean of -log p(label) over the positions whose label is not -100, over the whole batch",
                f"loss {float(got):.8f}, expected {float(want):.8f}",
            )
        expect(got.dtype == logits.dtype, "sft_loss keeps the logits' dtype (float64 in, float64 out)", f"got {got.dtype}")
        expect_close(got, want, "sft_loss's value", rtol=LOSS_RTOL, atol=LOSS_ATOL)
    one = _cross_entropy(logits[:1].flatten(0, 1), labels[:1].flatten(), ignore_index=IGNORE)
    expect_close(loss_of(submission, logits[:1], labels[:1]), one, "sft_loss of a batch of one sequence", rtol=LOSS_RTOL, atol=LOSS_ATOL)


def test_loss_gradient_flows_to_supervised_positions_only(submission):
    """sft_loss's gradient is exactly zero at positions labelled -100 and equals F.cross_entropy's elsewhere; float32 works too"""
    for dtype, rtol, atol in ((torch.float64, 1e-9, 1e-12), (torch.float32, 1e-5, 1e-7)):
        logits, labels = batch(4, dtype)
        theirs = logits.clone().requires_grad_()
        _cross_entropy(theirs.flatten(0, 1), labels.flatten(), ignore_index=IGNORE).backward()
        mine = logits.clone().requires_grad_()
        got = loss_of(submission, mine, labels)
        expect(got.requires_grad, "sft_loss must stay differentiable: compute it with torch operations on the logits (no .item(), no detach)")
        got.backward()
        expect(mine.grad is not None, "the loss must depend on the logits")
        ignored = (labels == IGNORE).unsqueeze(-1).expand_as(mine.grad)
        expect(
            bool((mine.grad[ignored] == 0).all()),
            "positions labelled -100 must get exactly zero gradient: they carry no loss",
            f"{dtype}: largest gradient at an ignored position {float(mine.grad[ignored].abs().max()):.3g}",
        )
        if not torch.allclose(mine.grad, theirs.grad, rtol, atol):
            named = next(
                (why for why, v in loss_variants(logits, labels).items() if torch.allclose(got.detach(), v.to(got.dtype), 1e-5, 1e-7)),
                "the gradient of sft_loss differs from F.cross_entropy(ignore_index=-100)'s",
            )
            raise Misconception(named, f"{dtype}: largest difference {float((mine.grad - theirs.grad).abs().max()):.3g}")
        expect_close(mine.grad, theirs.grad, f"the gradient of sft_loss in {dtype}", rtol=rtol, atol=atol)
