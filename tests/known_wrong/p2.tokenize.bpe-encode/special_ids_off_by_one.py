MISCONCEPTION = "the first special token gets id 256 + len(merges)"


class BPETokenizer(BPETokenizer):
    def __init__(self, merges, special_tokens=()):
        super().__init__(merges, special_tokens)
        for i in self.special_ids.values():
            del self.vocab[i]
        self.special_ids = {tok: 257 + len(self.merges) + j for j, tok in enumerate(special_tokens)}  # one too far
        for tok, i in self.special_ids.items():
            self.vocab[i] = tok.encode("utf-8")
