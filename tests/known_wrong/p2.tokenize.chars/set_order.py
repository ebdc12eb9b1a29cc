MISCONCEPTION = "ids must follow sorted character order"


class CharTokenizer(CharTokenizer):
    def __init__(self, text):
        super().__init__(text)
        self.chars = list(set(text))  # string hashing is randomized per process: so is this order
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
