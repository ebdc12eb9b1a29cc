# Encode by binary search in the sorted character list (bisect) instead of a dict, and decode from a
# tuple of the known characters with the unknown id handled as its own case.

from bisect import bisect_left


class CharTokenizer:
    def __init__(self, text):
        self._chars = tuple(sorted(set(text)))
        self.unk_id = len(self._chars)

    @property
    def vocab_size(self):
        return self.unk_id + 1

    def _id_of(self, ch):
        i = bisect_left(self._chars, ch)
        return i if i < len(self._chars) and self._chars[i] == ch else self.unk_id

    def encode(self, text):
        return [self._id_of(ch) for ch in text]

    def decode(self, ids):
        pieces = []
        for i in ids:
            if i == self.unk_id:
                pieces.append(UNK)
            elif 0 <= i < self.unk_id:
                pieces.append(self._chars[i])
            else:  # tuples accept -1 silently, so the range is checked by hand
                raise ValueError(f"id {i} is not in 0..{self.vocab_size - 1}")
        return "".join(pieces)
