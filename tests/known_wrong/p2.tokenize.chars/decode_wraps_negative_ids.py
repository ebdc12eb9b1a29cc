MISCONCEPTION = "a negative id must not wrap"


class CharTokenizer(CharTokenizer):
    def decode(self, ids):
        table = self.chars + [UNK]
        return "".join(table[i] for i in ids)  # table[-1] is UNK, table[-2] the last character
