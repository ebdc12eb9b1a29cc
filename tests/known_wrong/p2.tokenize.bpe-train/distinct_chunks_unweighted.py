MISCONCEPTION = "weight it by its frequency"


def train_bpe(text, num_merges):
    words = [list(c.encode("utf-8")) for c in set(split_chunks(text))]  # each distinct chunk counts once
    merges = []
    for k in range(num_merges):
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge(w, best, 256 + k) for w in words]
    return merges
