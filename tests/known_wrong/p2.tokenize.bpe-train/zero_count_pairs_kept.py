MISCONCEPTION = "stop early when no pair is left"


def train_bpe(text, num_merges):
    chunk_counts = Counter(split_chunks(text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    pair_counts = Counter()
    where = defaultdict(set)
    for w, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freq
            where[pair].add(w)
    merges = []
    for k in range(num_merges):
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        merges.append(best)
        for w in where.pop(best, set()):
            word, freq = words[w], freqs[w]
            new_word = merge(word, best, 256 + k)
            for pair in zip(word, word[1:]):
                pair_counts[pair] -= freq  # counts drop to 0 but the pairs stay in the Counter
            for pair in zip(new_word, new_word[1:]):
                pair_counts[pair] += freq
                where[pair].add(w)
            words[w] = new_word
    return merges
