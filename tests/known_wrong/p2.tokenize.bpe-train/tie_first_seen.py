MISCONCEPTION = "ties between equally frequent pairs go to the smallest pair"


def train_bpe(text, num_merges):
    words = [list(c.encode("utf-8")) for c in split_chunks(text)]
    merges = []
    for k in range(num_merges):
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        best = max(counts, key=counts.get)  # the first pair met among the most frequent
        merges.append(best)
        words = [merge(w, best, 256 + k) for w in words]
    return merges
