MISCONCEPTION = "each chunk starts as its UTF-8 bytes"


class BPETokenizer(BPETokenizer):
    def _encode_chunk(self, chunk):
        ids = [ord(ch) for ch in chunk]  # code points: 'é' becomes 233, '€' 8364
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            ids = merge(ids, pair, 256 + self.ranks[pair])
        return ids
