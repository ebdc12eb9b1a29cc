MISCONCEPTION = "the first special token gets id 256 + len(merges)"


class BPETokenizer(BPETokenizer):
    def __init__(self, merges, special_tokens=()):
        super().__init__(merges, special_tokens)
        self.special_ids = {tok: 255 + len(self.merges) + j for j, tok in enumerate(special_tokens)}  # the last merge's id
        for tok, i in self.special_ids.items():
            self.vocab[i] = tok.encode("utf-8")
