MISCONCEPTION = "pairs never cross chunk boundaries"


def train_bpe(text, num_merges):
    ids = list(text.encode("utf-8"))  # no chunks: pairs span words, spaces and punctuation
    merges = []
    for k in range(num_merges):
        counts = Counter(zip(ids, ids[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        ids = merge(ids, best, 256 + k)
    return merges
