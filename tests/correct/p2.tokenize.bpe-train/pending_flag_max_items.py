# merge as one pass that remembers whether the last token out is an unmerged first half of the pair;
# training on a dict of distinct chunks with plain-dict pair counts, each merged chunk's counts moved by
# the difference between its new and old pairs, and the winner picked with max over items.

from collections import defaultdict


def merge(ids, pair, new_id):
    first, second = pair
    out = []
    pending = False  # out[-1] is an original `first` that may still pair with the next token
    for t in ids:
        if pending and t == second:
            out[-1] = new_id
            pending = False  # the merged token cannot start another match
        else:
            out.append(t)
            pending = t == first
    return out


def _pairs(word):
    counts = defaultdict(int)
    for p in zip(word, word[1:]):
        counts[p] += 1
    return counts


def train_bpe(text, num_merges):
    chunk_freq = {}
    for chunk in split_chunks(text):
        chunk_freq[chunk] = chunk_freq.get(chunk, 0) + 1
    words = [list(chunk.encode("utf-8")) for chunk in chunk_freq]
    freqs = list(chunk_freq.values())

    counts = {}  # pair -> occurrences in the whole text
    holders = defaultdict(set)  # pair -> indices of the words that held it at some point
    for w, word in enumerate(words):
        for p, c in _pairs(word).items():
            counts[p] = counts.get(p, 0) + c * freqs[w]
            holders[p].add(w)

    merges = []
    new_id = 256
    while len(merges) < num_merges and counts:
        # highest count; among equal counts the smallest pair, so negate the pair's ids
        (a, b), _ = max(counts.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
        best = (a, b)
        merges.append(best)
        for w in holders.pop(best):
            old = words[w]
            new = merge(old, best, new_id)
            if len(new) == len(old):
                continue  # this word lost the pair to an earlier merge
            delta = _pairs(new)
            for p, c in _pairs(old).items():
                delta[p] -= c
            for p, c in delta.items():
                if c == 0:
                    continue
                total = counts.get(p, 0) + c * freqs[w]
                if total:
                    counts[p] = total
                else:
                    del counts[p]  # gone from the text: must never be chosen again
                if c > 0:
                    holders[p].add(w)
            words[w] = new
        new_id += 1
    return merges
