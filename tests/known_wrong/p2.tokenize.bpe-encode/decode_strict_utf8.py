MISCONCEPTION = "errors='replace'"


class BPETokenizer(BPETokenizer):
    def decode(self, ids):
        return b"".join(self.vocab[i] for i in ids).decode("utf-8")
