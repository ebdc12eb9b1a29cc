MISCONCEPTION = "start from the UTF-8 bytes"


def train_bpe(text, num_merges):
    words = [[ord(ch) for ch in c] for c in split_chunks(text)]  # code points, not bytes
    merges = []
    for k in range(num_merges):
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge(w, best, 256 + k) for w in words]
    return merges
