MISCONCEPTION = "apply merges in rank order"


class BPETokenizer(BPETokenizer):
    def _encode_chunk(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while True:
            counts = Counter(p for p in zip(ids, ids[1:]) if p in self.ranks)
            if not counts:
                return ids
            pair = max(counts, key=counts.get)  # the most frequent pair of this text, as in training
            ids = merge(ids, pair, 256 + self.ranks[pair])


from collections import Counter
