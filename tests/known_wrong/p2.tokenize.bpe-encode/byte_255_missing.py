MISCONCEPTION = "range(256), not range(255)"


class BPETokenizer(BPETokenizer):
    def __init__(self, merges, special_tokens=()):
        super().__init__(merges, special_tokens)
        del self.vocab[255]  # built with range(255): the last byte is missing
