MISCONCEPTION = "ids must follow sorted character order"


class CharTokenizer(CharTokenizer):
    def __init__(self, text):
        super().__init__(text)
        self.chars = list(dict.fromkeys(text))  # order of first appearance
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
