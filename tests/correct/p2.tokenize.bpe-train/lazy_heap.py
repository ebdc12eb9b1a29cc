# merge over (token, next token) pairs with a skip flag; training picks each round's pair from a heap of
# (-count, pair) entries with lazy deletion: an entry whose count is no longer current is dropped when it
# surfaces, and every change of a count pushes a fresh entry.

import heapq
from collections import Counter, defaultdict
from itertools import islice, zip_longest


def merge(ids, pair, new_id):
    pair = tuple(pair)
    out = []
    skip = False
    for cur, nxt in zip_longest(ids, islice(ids, 1, None)):
        if skip:
            skip = False  # this token was the second half of the pair just merged
            continue
        if (cur, nxt) == pair:
            out.append(new_id)
            skip = True
        else:
            out.append(cur)
    return out


def train_bpe(text, num_merges):
    chunks = Counter(split_chunks(text))
    words = [list(c.encode("utf-8")) for c in chunks]
    weights = [chunks[c] for c in chunks]

    counts = Counter()
    index = defaultdict(set)  # pair -> words that may contain it
    for w, word in enumerate(words):
        for p in zip(word, word[1:]):
            counts[p] += weights[w]
            index[p].add(w)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)  # smallest (-count, pair) first: the highest count, ties to the smallest pair

    merges = []
    while len(merges) < num_merges:
        best = None
        while heap:
            neg, p = heapq.heappop(heap)
            if counts.get(p, 0) == -neg and -neg > 0:
                best = p
                break
        if best is None:
            break  # no pair left anywhere
        new_id = 256 + len(merges)
        merges.append(best)
        touched = set()
        for w in index.pop(best, ()):
            word = words[w]
            merged = merge(word, best, new_id)
            if len(merged) == len(word):
                continue
            f = weights[w]
            for p in zip(word, word[1:]):
                counts[p] -= f
                touched.add(p)
            for p in zip(merged, merged[1:]):
                counts[p] += f
                index[p].add(w)
                touched.add(p)
            words[w] = merged
        for p in touched:
            c = counts[p]
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                del counts[p]
    return merges
