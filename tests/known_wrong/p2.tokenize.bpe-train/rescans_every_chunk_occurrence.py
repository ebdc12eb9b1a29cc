MISCONCEPTION = "train_bpe is too slow"


def train_bpe(text, num_merges):
    words = [list(c.encode("utf-8")) for c in split_chunks(text)]  # every occurrence of every chunk
    merges = []
    for k in range(num_merges):
        counts = Counter()
        for w in words:  # the whole text, again, for every merge
            for pair in zip(w, w[1:]):
                counts[pair] += 1
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge(w, best, 256 + k) for w in words]
    return merges
