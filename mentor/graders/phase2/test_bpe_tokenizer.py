"""Grader: encoding and decoding with byte-level BPE (rank order, special tokens, UTF-8, streaming)."""

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentor.corpus import default_corpus
from mentor.grading.expect import expect, expect_equal, expect_self_check
from mentor.grading.plugin import load_module_from

# Token ids and strings are compared exactly: no tolerance anywhere.
SPECIALS = ["<|endoftext|>", "<|pad|>"]
EOT = SPECIALS[0]
TRAIN_BYTES, NUM_MERGES = 20_000, 300
# 20,000 lines of 55 bytes: a streaming encoder may buffer (up to a quarter, about 270 KB) before its
# first id, but one that reads everything first fails
LAZY_LINES = 20_000
# Hypothesis: a fixed, bounded sample (derandomize, no example database), so every run sees the same
# strings and the test takes about a second.
PROPERTY = settings(
    max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus():
    return default_corpus(2 * TRAIN_BYTES)


@pytest.fixture(scope="module")
def merges(reference, corpus):
    """Merges learnt by the reference trainer (the sibling of the reference solution) on real text."""
    trainer = load_module_from(str(Path(reference.__file__).with_name("bpe_train.py")), "reference_bpe_train", isolate=True)
    return trainer.train_bpe(corpus[:TRAIN_BYTES], NUM_MERGES)


@pytest.fixture(scope="module")
def unseen(corpus):
    """Text the merges were not trained on, with special tokens between its paragraphs."""
    return corpus[TRAIN_BYTES : TRAIN_BYTES + 8_000].replace("\n\n", f"\n{EOT}\n", 20).replace("\n\n", f"{EOT}\n\n", 5)


def test_vocab_size(submission, reference, merges):
    """vocab_size is 256 byte ids, plus one per merge, plus one per special token"""
    want = reference.BPETokenizer(merges, SPECIALS).vocab_size
    got = submission.BPETokenizer(merges, SPECIALS).vocab_size
    expect_self_check(want, 256 + NUM_MERGES + len(SPECIALS))
    expect_equal(
        got,
        want,
        "vocab_size = 256 byte ids + one per merge + one per special token",
        f"{NUM_MERGES} merges and {len(SPECIALS)} special tokens: got {got}, expected {want}",
    )


def test_chunks_start_as_utf8_bytes(submission, reference):
    """with no merges, encode gives the UTF-8 bytes of the text"""
    text = "hé€😀"  # 1, 2, 3 and 4 bytes
    want = reference.BPETokenizer([]).encode(text)
    got = submission.BPETokenizer([]).encode(text)
    expect_self_check(want, [104, 195, 169, 226, 130, 172, 240, 159, 152, 128])
    expect_equal(
        list(got),
        want,
        "each chunk starts as its UTF-8 bytes (list(chunk.encode('utf-8'))): ord('é') = 233 is a code point, "
        "not a byte, and '€' (ord 8364) has no byte id at all",
        f"encode({text!r}) with no merges: got {got}, expected {want}",
    )


def test_merges_apply_in_rank_order(submission, reference):
    """the adjacent pair learnt earliest (lowest rank) is merged first, not the most frequent or leftmost one"""
    why = (
        "apply merges in rank order: among the adjacent pairs, merge the one learnt earliest (lowest rank), "
        "again and again; not the pair most frequent in the text being encoded, nor the leftmost pair that has a rank"
    )
    # ab has rank 0, bc rank 1: ab first -> [ab, c, bc, bc]; bc is more frequent here, merging it first
    # would give [a, bc, bc, bc]
    by_frequency = ([(97, 98), (98, 99)], "abcbcbc", [256, 99, 257, 257])
    # bc has rank 0: [a, bc]; the leftmost ranked pair (a, b) would give [ab, c]
    by_position = ([(98, 99), (97, 98)], "abc", [97, 256])
    for pairs, text, hand in (by_frequency, by_position):
        want = reference.BPETokenizer(pairs).encode(text)
        got = submission.BPETokenizer(pairs).encode(text)
        expect_self_check(want, hand)
        expect_equal(list(got), want, why, f"merges {pairs}, encode({text!r}): got {got}, expected {want}")


def test_merges_stay_inside_chunks(submission, reference):
    """merges never join two chunks: 'a b' stays [a, ' ', b] even with the merge (a, ' ')"""
    pairs, text = [(97, 32)], "a b"  # chunks 'a' and ' b': the pair (a, ' ') spans the boundary
    want = reference.BPETokenizer(pairs).encode(text)
    got = submission.BPETokenizer(pairs).encode(text)
    expect_self_check(want, [97, 32, 98])
    expect_equal(
        list(got),
        want,
        "merges never cross chunk boundaries: cut the text with SPLIT_PATTERN and merge inside each chunk only, "
        "as training did",
        f"merges {pairs}, encode({text!r}): got {got}, expected {want}",
    )


def test_matches_reference_on_unseen_text(submission, reference, merges, unseen):
    """on text the merges were not trained on, encode gives the reference's ids"""
    want = reference.BPETokenizer(merges, SPECIALS).encode(unseen)
    got = list(submission.BPETokenizer(merges, SPECIALS).encode(unseen))
    k = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    expect_equal(
        got,
        want,
        "encode differs from the reference on real text: special tokens whole, SPLIT_PATTERN chunks, each chunk "
        "from its UTF-8 bytes, lowest-rank pair merged first until no pair has a rank",
        f"{len(got)} ids, expected {len(want)}; first difference at position {k}: got {got[k : k + 5]}, "
        f"expected {want[k : k + 5]}",
    )


def test_special_tokens_are_never_split(submission, reference, merges):
    """a special token becomes one id of its own, and the text around it is encoded on its own"""
    text = f"end.{EOT}Start{EOT}{EOT} again<|pad|>"
    want = reference.BPETokenizer(merges, SPECIALS).encode(text)
    tok = submission.BPETokenizer(merges, SPECIALS)
    got = list(tok.encode(text))
    eot, pad = list(tok.encode(EOT)), list(tok.encode("<|pad|>"))
    # the learner's own ids for the pieces between the special tokens, whatever ids their specials have
    pieces = [*tok.encode("end."), *eot, *tok.encode("Start"), *eot, *eot, *tok.encode(" again"), *pad]
    expect(
        len(eot) == len(pad) == 1 and got == pieces and len(got) == len(want),
        "special tokens are never split: each occurrence of '<|endoftext|>' becomes its one reserved id, and the "
        "text before and after it is encoded separately (split on the special tokens first, then chunk the rest)",
        f"encode({EOT!r}) gave {eot}; encode({text!r}) gave {len(got)} ids {got[:16]}, expected {len(want)} ids {want}",
    )


def test_special_token_ids_follow_the_merges(submission, reference, merges):
    """the special tokens get ids 256 + len(merges), 256 + len(merges) + 1, ... and decode to themselves"""
    ref = reference.BPETokenizer(merges, SPECIALS)
    want = [ref.encode(s) for s in SPECIALS]
    tok = submission.BPETokenizer(merges, SPECIALS)
    got = [list(tok.encode(s)) for s in SPECIALS]
    why = (
        "the first special token gets id 256 + len(merges), the next one 256 + len(merges) + 1: the ids right after "
        "the last merge, in the order given (not 257 + len(merges), and not the last merge's id 255 + len(merges))"
    )
    expect_self_check(want, [[256 + NUM_MERGES], [257 + NUM_MERGES]])
    expect_equal(got, want, why, f"ids of {SPECIALS}: got {got}, expected {want}")
    back = tok.decode([256 + NUM_MERGES, 257 + NUM_MERGES])
    expect_equal(back, "".join(SPECIALS), f"{why}; decoding a special token's id gives its text", f"decode gave {back!r}")


def test_decode_joins_bytes_before_decoding(submission, reference):
    """decode joins the bytes of all ids first: a character's bytes may lie in several tokens"""
    text = "naïve café, 3€ 😀"
    ref = reference.BPETokenizer([])
    ids = ref.encode(text)  # bytes only: every non-ASCII character is spread over 2 to 4 tokens
    want = ref.decode(ids)
    got = submission.BPETokenizer([]).decode(ids)
    expect_self_check(want, text)
    expect_equal(
        got,
        want,
        "concatenate the bytes of all tokens first, then decode once: decoding token by token cuts 'é' (bytes "
        "195, 169) into two invalid halves",
        f"decode(bytes of {text!r}) gave {got!r}",
    )


def test_decode_replaces_invalid_utf8(submission, reference):
    """bytes that are not valid UTF-8 decode to the replacement character instead of raising"""
    cases = [([104, 226, 130, 105], "h\ufffdi"), ([240, 159], "\ufffd"), ([128], "\ufffd")]  # cut '€', cut '😀', stray
    why = (
        "decode with errors='replace': a model can emit ids whose bytes are not valid UTF-8 (the first two of the four "
        "bytes of an emoji), and decode must show them as '\ufffd' instead of raising UnicodeDecodeError"
    )
    want = [reference.BPETokenizer([]).decode(ids) for ids, _ in cases]
    tok = submission.BPETokenizer([])
    for (ids, hand), w in zip(cases, want):
        try:
            got = tok.decode(ids)
        except UnicodeDecodeError as e:
            expect(False, why, f"decode({ids}) raised UnicodeDecodeError: {e}")
        expect_self_check(w, hand)
        expect_equal(got, w, why, f"decode({ids}): got {got!r}, expected {w!r}")


def test_every_byte_id_decodes(submission, reference):
    """each of the 256 byte ids has its byte in the vocabulary: decode([i]) never raises"""
    tok = submission.BPETokenizer([])
    for i in (0, 10, 127, 128, 191, 192, 254, 255):  # ASCII, continuation bytes, lead bytes, never-valid 0xFE/0xFF
        want = reference.BPETokenizer([]).decode([i])
        try:
            got = tok.decode([i])
        except (KeyError, IndexError) as e:
            expect(
                False,
                "ids 0..255 are the 256 single bytes, every one of them: range(256), not range(255); a model may "
                "emit any of them, even bytes that never occur in UTF-8 text",
                f"decode([{i}]) raised {type(e).__name__}: {e}",
            )
        expect_equal(got, want, "decode([i]) of a byte id is that byte, decoded with errors='replace'", f"decode([{i}]) = {got!r}, expected {want!r}")


def test_a_special_token_that_starts_another_one_never_cuts_it(submission, reference, merges):
    """when one special token is the beginning of another, the longer one wins wherever it appears"""
    # Given shortest first on purpose: a regex alternation takes the first alternative that matches.
    specials = ["<|im|>", "<|im|>start", "<|im|>end"]
    text = "a<|im|>start b<|im|> c<|im|>end"
    ref = reference.BPETokenizer(merges, specials)
    want = ref.encode(text)
    ids = {tok: ref.encode(tok)[0] for tok in specials}
    got = submission.BPETokenizer(merges, specials).encode(text)
    expect_equal(
        got,
        want,
        "a special token that starts another one must not cut it: match the longest special tokens first "
        "(sort them by length, longest first, before joining them into the pattern)",
        f"specials {specials} (ids {list(ids.values())}), text {text!r}: got {got}, expected {want}",
    )


def test_round_trip_on_any_unicode(submission, reference, merges):
    """decode(encode(s)) == s for any Unicode string, special tokens included"""
    reference.BPETokenizer(merges, SPECIALS).encode(EOT)
    tok = submission.BPETokenizer(merges, SPECIALS)
    pieces = st.one_of(
        st.text(max_size=8),  # any code points except surrogates, which UTF-8 cannot encode
        st.sampled_from([EOT, "<|pad|>", "<|", " the", "\n\n", "\n    ", "aaa", "é", "€", "😀", "'s", "_"]),
    )

    @PROPERTY
    @given(st.lists(pieces, max_size=12).map("".join))
    def round_trip(s):
        ids = list(tok.encode(s))
        back = tok.decode(ids)
        expect_equal(
            back,
            s,
            "decode(encode(s)) must give s back for any Unicode string: encode every character through its UTF-8 "
            "bytes, keep special tokens whole, and decode the joined bytes once",
            f"s = {s!r}\nencode(s) = {ids}\ndecode(encode(s)) = {back!r}",
        )

    round_trip()


def test_encode_iterable_matches_encode(submission, reference, merges, unseen):
    """encode_iterable over the lines of a text yields exactly encode(text)"""
    text = unseen + "\n\n\n  indented\n\tlast line without newline"
    want = reference.BPETokenizer(merges, SPECIALS).encode(text)
    tok = submission.BPETokenizer(merges, SPECIALS)
    got = list(tok.encode_iterable(io.StringIO(text)))  # iterating a file yields its lines, '\n' included
    k = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    expect_equal(
        got,
        want,
        "encode_iterable must yield exactly the ids of encode(''.join(lines)): a chunk can continue into the next "
        "line ('\\n' followed by indentation is one chunk), so encoding each line on its own differs; hold back "
        "the last chunk of what you have read until the next line arrives",
        f"{len(got)} ids, expected {len(want)}; first difference at position {k}: got {got[k : k + 5]}, "
        f"expected {want[k : k + 5]}",
    )


def test_encode_iterable_with_empty_lines_and_no_lines(submission, reference, merges):
    """encode_iterable copes with empty strings among the lines, and with no lines at all"""
    tok = submission.BPETokenizer(merges, SPECIALS)
    for lines in ([], [""], ["", "ab", "", " cd\n", ""]):
        want = reference.BPETokenizer(merges, SPECIALS).encode("".join(lines))
        try:
            got = list(tok.encode_iterable(iter(lines)))
        except IndexError as e:
            expect(
                False,
                "encode_iterable must accept an empty line (and an empty input): the text read so far can be empty, "
                "and its pieces then are an empty list, with no last piece to hold back",
                f"lines {lines!r}: IndexError: {e}",
            )
        expect_equal(got, want, "encode_iterable(lines) yields encode(''.join(lines))", f"lines {lines!r}: got {got}, expected {want}")


def test_encode_iterable_is_lazy(submission, reference, merges):
    """encode_iterable yields its first ids long before it has read the whole input"""
    lines = [f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(LAZY_LINES)]
    want_first = reference.BPETokenizer(merges, SPECIALS).encode(lines[0])[0]
    read = []

    def reader():
        for line in lines:
            read.append(line)
            yield line

    ids = iter(submission.BPETokenizer(merges, SPECIALS).encode_iterable(reader()))
    first = next(ids, None)
    expect(
        len(read) <= LAZY_LINES // 4,
        "encode_iterable must consume its input lazily: yield the ids of the lines read so far (a generator, with "
        "`yield`), instead of reading, joining or listing every line first: a file can be larger than memory",
        f"before the first id came out, {len(read)} of {len(lines)} lines had been read",
    )
    expect_equal(first, want_first, "encode_iterable's first id must be the first id of encode(text)", f"got {first}")
