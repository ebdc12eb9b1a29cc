MISCONCEPTION = "train_bpe is too slow"


def train_bpe(text, num_merges):
    chunk_counts = Counter(split_chunks(text))
    words = [list(c.encode("utf-8")) for c in chunk_counts]  # distinct chunks: a good start
    freqs = list(chunk_counts.values())
    merges = []
    for k in range(num_merges):
        counts = Counter()
        for w, f in zip(words, freqs):  # but every pair is counted again after each merge
            for pair in zip(w, w[1:]):
                counts[pair] += f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge(w, best, 256 + k) for w in words]
    return merges
