MISCONCEPTION = "apply merges in rank order"


class BPETokenizer(BPETokenizer):
    def _encode_chunk(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while True:
            pair = next((p for p in zip(ids, ids[1:]) if p in self.ranks), None)  # leftmost, whatever its rank
            if pair is None:
                return ids
            ids = merge(ids, pair, 256 + self.ranks[pair])
