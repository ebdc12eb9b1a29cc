# The vocabulary kept as one string whose last character is UNK: decode indexes that string after
# checking every id up front, encode uses a dict built with zip.


class CharTokenizer:
    def __init__(self, text):
        alphabet = "".join(sorted(set(text)))  # code-point order
        self.unk_id = len(alphabet)
        self._table = alphabet + UNK  # position i decodes id i; the last position is the unknown id
        self._ids = dict(zip(alphabet, range(len(alphabet))))

    @property
    def vocab_size(self):
        return len(self._table)

    def encode(self, text):
        ids = self._ids
        unk = self.unk_id
        return [ids.get(ch, unk) for ch in text]

    def decode(self, ids):
        ids = list(ids)
        bad = [i for i in ids if not 0 <= i < len(self._table)]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary 0..{len(self._table) - 1}")
        return "".join(self._table[i] for i in ids)
