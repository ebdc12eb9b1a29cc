MISCONCEPTION = "one per special token"


class BPETokenizer(BPETokenizer):
    @property
    def vocab_size(self):
        return 256 + len(self.merges)
