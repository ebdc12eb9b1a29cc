"""Grader: training byte-level BPE merges (merge pass, pair counting, tie-break, speed)."""

from collections import Counter

import pytest

from mentor.corpus import default_corpus
from mentor.grading.budget import expect_within_ratio, median_seconds
from mentor.grading.expect import expect, expect_equal, expect_self_check

# Merges are integers: every comparison is exact. The corpus is the course's offline default,
# the same text for the reference and the learner within one run.
BUDGET_TEXT_BYTES, BUDGET_MERGES = 20_000, 250
# The reference takes about 0.06 s here. Recounting the distinct chunks' pairs after every merge takes
# 5-9x as long, rescanning every chunk occurrence 20-25x; incremental versions written differently from
# the reference (tuples as keys, max over items, a rebuilt dict per merge) measured 1.2-1.7x.
MAX_RATIO = 3.0
GROSS_RATIO = 10.0  # a single timing this far over fails at once, without the five-run median


def as_merges(merges) -> list:
    """The learner's merges as a list of (int, int) tuples, so lists of lists compare equal too."""
    try:
        return [tuple(int(x) for x in pair) for pair in merges]
    except (TypeError, ValueError):
        expect(False, "train_bpe must return a list of (int, int) pairs", f"got {type(merges).__name__}: {merges!r:.120}")


def first_difference(got: list, want: list) -> str:
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"merge {k} (new id {256 + k}): got {g}, expected {w}; your first merges {got[: k + 1][-5:]}"
    return f"got {len(got)} merges, expected {len(want)}"


def expect_merges(submission, reference, text: str, num_merges: int, hand: list, why: str) -> None:
    """The learner's merges on a small text equal the reference's, which equal the hand-computed ones."""
    want = reference.train_bpe(text, num_merges)
    got = as_merges(submission.train_bpe(text, num_merges))
    expect_self_check(want, hand)
    expect_equal(got, want, why, f"train_bpe({text!r}, {num_merges}): got {got}, expected {want}")


@pytest.fixture(scope="module")
def corpus():
    return default_corpus(BUDGET_TEXT_BYTES)


def test_merge_replaces_pairs_left_to_right(submission, reference):
    """merge replaces each occurrence of the pair, left to right, without overlaps"""
    cases = [  # (ids, pair, new_id, hand-computed result)
        ([1, 2, 3, 1, 2], (1, 2), 99, [99, 3, 99]),
        ([97, 97, 97], (97, 97), 256, [256, 97]),
        ([97, 97, 97, 97], (97, 97), 256, [256, 256]),
        ([5, 1, 2], (1, 2), 7, [5, 7]),
        ([2, 1], (1, 2), 7, [2, 1]),
        ([], (1, 2), 7, []),
    ]
    for ids, pair, new_id, hand in cases:
        want = reference.merge(list(ids), pair, new_id)
        expect_self_check(want, hand, "the reference merge")
        arg = list(ids)
        got = submission.merge(arg, pair, new_id)
        expect_equal(
            None if got is None else list(got),
            want,
            "merge replaces non-overlapping occurrences from left to right: in [a, a, a] the pair (a, a) is "
            "merged once, giving [X, a]; after a match skip both tokens (i += 2), and look at the last token too",
            f"merge({ids}, {pair}, {new_id}) gave {got}, expected {want}",
        )
        expect_equal(arg, ids, "merge must return a new list and leave its input unchanged", f"ids became {arg}")


def test_hand_worked_example(submission, reference):
    """'aaabdaaabac' gives the merges (a, a), (a, b), then (aa, ab) as ids 256, 257, 258"""
    # pairs: aa 4, ab 2, ... -> (97, 97) = 256; then Z=256: (256, 97) 2 and (97, 98) 2 tie -> the smaller,
    # (97, 98) = 257; then (256, 257) 2 = 258. The third merge is built from the two new ids.
    hand = [(97, 97), (97, 98), (256, 257)]
    want = reference.train_bpe("aaabdaaabac", 3)
    got = as_merges(submission.train_bpe("aaabdaaabac", 3))
    expect_self_check(want, hand)
    expect_equal(
        got,
        want,
        "merge k creates the new id 256 + k (the first merge makes 256, the next 257), and later merges can pair "
        "those new ids: replace the pair in your token lists with that id and count again",
        first_difference(got, hand),
    )


def test_overlapping_pairs_all_count(submission, reference):
    """every adjacent position counts: 'aaaa' holds the pair (a, a) three times"""
    # (a, a): 3 overlapping positions, beating (' ', x) and (x, y) with 2 each
    expect_merges(
        submission, reference, "aaaa xy xy", 1, [(97, 97)],
        "count every adjacent position, overlapping ones included: 'aaaa' holds the pair (a, a) three times "
        "(zip(ids, ids[1:])), not once per chunk (a set of pairs) nor twice (non-overlapping, like str.count)",
    )  # fmt: skip


def test_ties_go_to_the_smallest_pair(submission, reference):
    """among equally frequent pairs, the one with the lowest first id, then lowest second id, wins"""
    # (a, b), (' ', c) and (c, d) occur twice each: the smallest is (32, 99); then (97, 98) ties with (256, 100)
    expect_merges(
        submission, reference, "ab cd ab cd", 2, [(32, 99), (97, 98)],
        "ties between equally frequent pairs go to the smallest pair (lowest first id, then lowest second id): "
        "max(counts, key=counts.get) picks whichever pair it met first, which depends on the text's order",
    )  # fmt: skip


def test_repeated_chunks_weigh_their_pairs(submission, reference):
    """a chunk that occurs n times adds n to each of its pairs' counts"""
    # (h, e) 4 times in four chunks; (a, b) only twice, in one chunk: unweighted, (a, b) would tie and win
    expect_merges(
        submission, reference, "the the the the abab", 1, [(104, 101)],
        "a chunk that occurs n times in the text adds n to the count of each of its pairs: when you count "
        "each distinct chunk once, weight it by its frequency",
    )  # fmt: skip


def test_pairs_never_cross_chunks(submission, reference):
    """pairs are counted inside chunks only, never across the boundary of two chunks"""
    # chunks a, !, a, ..., ' hi': only (' ', h) and (h, i) lie inside a chunk, while (a, !) spans two 4 times
    expect_merges(
        submission, reference, "a!a!a!a! hi", 2, [(32, 104), (256, 105)],
        "pairs never cross chunk boundaries: split the text with split_chunks first and count pairs inside each "
        "chunk only (a pair like (a, !) that spans two chunks is never merged)",
    )  # fmt: skip


def test_utf8_bytes_not_code_points(submission, reference):
    """training starts from each chunk's UTF-8 bytes (0..255), not from its characters' code points"""
    # é is the two bytes 195, 169 in UTF-8, while ord('é') is 233
    expect_merges(
        submission, reference, "été été café", 3, [(195, 169), (116, 256), (256, 257)],
        "start from the UTF-8 bytes of each chunk (list(chunk.encode('utf-8'))), ids 0..255: ord('é') = 233 is "
        "a code point, not a byte, and a character like '€' (ord 8364) has no byte id at all",
    )  # fmt: skip


def test_stops_when_no_pair_is_left(submission, reference):
    """training stops early once every chunk is a single token"""
    # (a, b) -> 256, then (' ', 256) -> 257; then the chunks [256] and [257] have no pairs left
    expect_merges(
        submission, reference, "ab ab", 10, [(97, 98), (32, 256)],
        "stop early when no pair is left: once every chunk is a single token there is nothing to merge, and a "
        "pair whose count has dropped to 0 must never be chosen (delete it from the counts)",
    )  # fmt: skip


def test_matches_reference_on_real_text(submission, reference, corpus):
    """on real text, the merges equal the reference's, one by one"""
    text = corpus[:8_000]
    want = reference.train_bpe(text, 120)
    counts = Counter()  # an independent count of the first round: the most frequent pair, ties to the smallest
    for chunk in reference.split_chunks(text):
        data = chunk.encode("utf-8")
        counts.update(zip(data, data[1:]))
    top = max(counts.values())
    expect_self_check(want[0], min(p for p, c in counts.items() if c == top), "the reference's first merge")
    got = as_merges(submission.train_bpe(text, 120))
    expect_equal(
        got,
        want,
        "your merges differ from the reference's on real text: each round merges the most frequent pair (ties to "
        "the smallest), and counts must stay exact after every merge, including pairs with the new token",
        first_difference(got, want),
    )


def test_training_speed(submission, reference, corpus):
    """train_bpe on 20 KB with 250 merges runs at most 3x as long as the reference"""
    why = (
        "train_bpe is too slow: count each distinct chunk once (with its frequency), and after a merge update "
        "the pair counts of only the chunks that contain the merged pair, instead of recounting every pair of "
        "the whole text for every merge"
    )

    def run_reference():
        return reference.train_bpe(corpus, BUDGET_MERGES)

    def run_learner():
        return submission.train_bpe(corpus, BUDGET_MERGES)

    theirs = median_seconds(run_reference, repeat=1, warmup=0)
    mine = median_seconds(run_learner, repeat=1, warmup=0)
    expect(
        mine <= GROSS_RATIO * theirs,
        why,
        f"latency budget: yours {mine * 1e3:.0f} ms, reference {theirs * 1e3:.0f} ms, ratio {mine / max(theirs, 1e-9):.1f}x, "
        f"allowed {MAX_RATIO:.1f}x",
    )
    expect_within_ratio(run_learner, run_reference, MAX_RATIO, why, repeat=5)
