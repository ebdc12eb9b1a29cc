MISCONCEPTION = "the unknown id must be its own id"


class CharTokenizer(CharTokenizer):
    def __init__(self, text):
        super().__init__(text)
        self.unk_id = 0  # the first known character's id as well
