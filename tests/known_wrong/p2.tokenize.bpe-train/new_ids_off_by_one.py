MISCONCEPTION = "merge k creates the new id 256 + k"


def train_bpe(text, num_merges):
    words = [list(c.encode("utf-8")) for c in split_chunks(text)]
    merges = []
    for k in range(num_merges):
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge(w, best, 257 + k) for w in words]  # ids start at 257: 256 is never made
    return merges
