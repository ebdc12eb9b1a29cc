MISCONCEPTION = "not raise KeyError"


class CharTokenizer(CharTokenizer):
    def encode(self, text):
        return [self.stoi[ch] for ch in text]
