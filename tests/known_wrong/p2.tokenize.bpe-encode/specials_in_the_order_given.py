MISCONCEPTION = "match the longest special tokens first"


class BPETokenizer(BPETokenizer):
    def __init__(self, merges, special_tokens=()):
        super().__init__(merges, special_tokens)
        alternatives = list(self.special_ids)  # in the order given: a shorter token that starts a longer one wins
        self._special_re = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")") if alternatives else None
