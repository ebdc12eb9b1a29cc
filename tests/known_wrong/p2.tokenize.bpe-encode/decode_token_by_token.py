MISCONCEPTION = "concatenate the bytes of all tokens first"


class BPETokenizer(BPETokenizer):
    def decode(self, ids):
        return "".join(self.vocab[i].decode("utf-8", errors="replace") for i in ids)
