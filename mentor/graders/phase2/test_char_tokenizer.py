"""Grader: a character-level tokenizer (vocabulary, encode, decode, unknown characters)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentor.grading.expect import expect, expect_equal, expect_self_check

TEXT = "the quick brown fox jumps over the lazy dog. THE END!"  # 31 distinct characters
UNK = "\ufffd"

# Round trips are exact string equality: no tolerance. Hypothesis runs a fixed, bounded sample
# (derandomize, no example database) so every grader run sees the same strings, in well under a second.
PROPERTY = settings(
    max_examples=200, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)  # fmt: skip


def test_ids_follow_sorted_characters(submission, reference):
    """the known characters get ids 0..n-1 in sorted order"""
    want = reference.CharTokenizer(TEXT).encode(TEXT)
    hand = [sorted(set("ab c")).index(ch) for ch in "cab "]  # ' ' < 'a' < 'b' < 'c': [3, 1, 2, 0]
    got = submission.CharTokenizer(TEXT).encode(TEXT)
    why = (
        "ids must follow sorted character order (sorted(set(text))): the order of first appearance is a "
        "different vocabulary, and list(set(text)) has an order that changes from run to run, so a model "
        "trained in one run would read garbage in the next"
    )
    expect_equal(list(got), want, why, f"encode({TEXT[:20]!r}...) gave {list(got)[:12]}..., expected {want[:12]}...")
    got_hand = submission.CharTokenizer("ab c").encode("cab ")
    expect_self_check(hand, [3, 1, 2, 0], "the grader's hand-worked ids")
    expect_equal(list(got_hand), hand, why, f"CharTokenizer('ab c').encode('cab ') gave {got_hand}, expected {hand}")


def test_vocab_size_counts_each_character_once_plus_unknown(submission, reference):
    """vocab_size is the number of distinct characters plus one id for unknown characters"""
    want = reference.CharTokenizer(TEXT).vocab_size
    got = submission.CharTokenizer(TEXT).vocab_size
    expect_self_check(want, len(set(TEXT)) + 1)
    expect_equal(
        got,
        want,
        "vocab_size must count each distinct character once, plus one unknown id: a vocabulary built "
        "from list(text) repeats characters, and leaving out the unknown id makes the model's output "
        "layer one row too small",
        f"vocab_size for {len(TEXT)} characters of which {len(set(TEXT))} distinct: got {got}, expected {want}",
    )


def test_unknown_character_encodes_to_unk_id(submission, reference):
    """a character missing from the training text encodes to unk_id instead of raising"""
    want = reference.CharTokenizer("abc").encode("ab?z")
    why = (
        "an unknown character (one the training text never contained) must encode to unk_id, "
        "not raise KeyError: use stoi.get(ch, unk_id)"
    )
    tok = submission.CharTokenizer("abc")
    try:
        got = tok.encode("ab?z")
    except KeyError as e:
        expect(False, why, f"encode('ab?z') with vocabulary 'abc' raised KeyError: {e}")
    expect_self_check(want, [0, 1, 3, 3])
    expect_equal(list(got), want, why, f"encode('ab?z') with vocabulary 'abc': got {got}, expected {want}")


def test_unk_id_is_its_own_id(submission, reference):
    """unk_id is n, one past the known characters, and decodes to the replacement character"""
    ref = reference.CharTokenizer(TEXT)
    want_id, want_text = ref.unk_id, ref.decode([ref.unk_id])
    tok = submission.CharTokenizer(TEXT)
    known = set(tok.encode(TEXT))
    why = (
        "the unknown id must be its own id, n = the number of known characters (one past the last): "
        "sharing id 0 or the last character's id makes an unknown character decode as a real one, and -1 is "
        "not a valid row of an embedding table"
    )
    expect_self_check(want_id, len(set(TEXT)))
    expect_equal(tok.unk_id, want_id, why, f"unk_id: got {tok.unk_id}, expected {want_id}")
    expect(tok.unk_id not in known, why, f"unk_id {tok.unk_id} is also the id of a known character")
    got_text = tok.decode([tok.unk_id])
    expect_self_check(want_text, UNK)
    expect_equal(got_text, want_text, f"{why}; unk_id decodes to UNK ('\\ufffd')", f"decode([unk_id]) gave {got_text!r}")


def test_round_trip_on_known_characters(submission, reference):
    """decode(encode(s)) gives s back for any string of known characters"""
    reference.CharTokenizer(TEXT).encode(TEXT)
    tok = submission.CharTokenizer(TEXT)

    @PROPERTY
    @given(st.text(alphabet=sorted(set(TEXT)), max_size=40))
    def round_trip(s):
        back = tok.decode(tok.encode(s))
        expect_equal(
            back,
            s,
            "decode(encode(s)) must give s back: decode joins the characters with nothing between them "
            "(''.join), one character per id",
            f"s = {s!r}, decode(encode(s)) = {back!r}",
        )

    round_trip()


def test_decode_rejects_ids_outside_the_vocabulary(submission, reference):
    """decode raises ValueError for an id below 0 or at least vocab_size, instead of wrapping around"""
    ref = reference.CharTokenizer(TEXT)
    tok = submission.CharTokenizer(TEXT)
    why = (
        "decode must raise ValueError for an id outside 0..vocab_size-1: a negative id must not wrap "
        "around (a Python list gives itos[-1] = the last character), or a model's bad id goes unnoticed"
    )
    for bad in (-1, ref.vocab_size, ref.vocab_size + 5):
        try:
            out = tok.decode([0, bad])
        except ValueError:
            continue
        except (IndexError, KeyError) as e:
            expect(False, why, f"decode([0, {bad}]) raised {type(e).__name__} instead of ValueError")
        expect(False, why, f"decode([0, {bad}]) returned {out!r} instead of raising ValueError")
