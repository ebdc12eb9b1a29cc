MISCONCEPTION = "count each distinct character once"


class CharTokenizer(CharTokenizer):
    def __init__(self, text):
        super().__init__(text)
        self.chars = sorted(text)  # every occurrence, not every distinct character
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        self.unk_id = len(self.chars)
