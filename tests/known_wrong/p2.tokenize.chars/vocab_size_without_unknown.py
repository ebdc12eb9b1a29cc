MISCONCEPTION = "plus one unknown id"


class CharTokenizer(CharTokenizer):
    @property
    def vocab_size(self):
        return len(self.chars)
