"""Phase 2 · Training a byte-level BPE tokenizer (reference)."""

import re
from collections import Counter, defaultdict

SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def split_chunks(text: str) -> list[str]:
    return re.findall(SPLIT_PATTERN, text)


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2  # both tokens are used up: 'aaa' gives [X, a], never [X, X]
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(text: str, num_merges: int) -> list[tuple[int, int]]:
    # Each distinct chunk once, with its count: a word that occurs 500 times is merged once, not 500 times.
    chunk_counts = Counter(split_chunks(text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # byte ids, 0..255
    freqs = list(chunk_counts.values())

    # pair -> occurrences in the whole text, and pair -> the words that (may) contain it
    pair_counts: Counter = Counter()
    where = defaultdict(set)
    for w, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):  # every adjacent position, overlapping: 'aaa' has (a, a) twice
            pair_counts[pair] += freq
            where[pair].add(w)

    merges = []
    for k in range(num_merges):
        if not pair_counts:
            break  # every chunk is a single token: nothing left to merge
        # most frequent pair; among equal counts the smallest (first id, then second id)
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        new_id = 256 + k
        merges.append(best)
        # only the words containing `best` change: update the counts from their old and new pairs
        for w in where.pop(best):
            word, freq = words[w], freqs[w]
            new_word = merge(word, best, new_id)
            if len(new_word) == len(word):
                continue  # `where` is a superset: an earlier merge already used this word's pair
            for pair in zip(word, word[1:]):
                pair_counts[pair] -= freq
                if pair_counts[pair] == 0:
                    del pair_counts[pair]  # a pair that no longer occurs must never be chosen
            for pair in zip(new_word, new_word[1:]):
                pair_counts[pair] += freq
                where[pair].add(w)
            words[w] = new_word
    return merges
