MISCONCEPTION = "with nothing between them"


class CharTokenizer(CharTokenizer):
    def decode(self, ids):
        return " ".join(self.itos.get(i, UNK) for i in ids)
