# Merges one pair at a time, at the leftmost place where the lowest rank occurs (as tiktoken does), special
# tokens found with str.find instead of a regular expression, a bytearray for decoding, and a streaming
# buffer cut at the start offset of its last chunk.


class BPETokenizer:
    def __init__(self, merges, special_tokens=()):
        self.rank_of = {}
        self.vocab = [bytes([b]) for b in range(256)]  # a list: id i is self.vocab[i]
        for a, b in merges:
            self.rank_of[(a, b)] = len(self.rank_of)
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.specials = list(special_tokens)
        self.special_id = {}
        for tok in self.specials:
            self.special_id[tok] = len(self.vocab)
            self.vocab.append(tok.encode("utf-8"))
        self.chunker = re.compile(SPLIT_PATTERN)

    @property
    def vocab_size(self):
        return len(self.vocab)

    def _next_special(self, text, start):
        """(position, token) of the first special token at or after `start`, the longest one at that position."""
        found = None
        for tok in self.specials:
            at = text.find(tok, start)
            if at < 0:
                continue
            if found is None or at < found[0] or (at == found[0] and len(tok) > len(found[1])):
                found = (at, tok)
        return found

    def _spans(self, text):
        """(start, piece, is_special) for every special token and every chunk of the text between them."""
        out, pos = [], 0
        while True:
            hit = self._next_special(text, pos) if self.specials else None
            end = hit[0] if hit else len(text)
            for m in self.chunker.finditer(text, pos, end):
                out.append((m.start(), m.group(), False))
            if hit is None:
                return out
            out.append((hit[0], hit[1], True))
            pos = hit[0] + len(hit[1])

    def _chunk_ids(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while True:
            best, where = None, -1
            for i in range(len(ids) - 1):
                r = self.rank_of.get((ids[i], ids[i + 1]))
                if r is not None and (best is None or r < best):  # strict <: the leftmost of equal ranks
                    best, where = r, i
            if best is None:
                return ids
            ids[where : where + 2] = [256 + best]

    def _piece_ids(self, piece, is_special):
        return [self.special_id[piece]] if is_special else self._chunk_ids(piece)

    def encode(self, text):
        ids = []
        for _, piece, is_special in self._spans(text):
            ids += self._piece_ids(piece, is_special)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            out += self.vocab[i]
        return bytes(out).decode("utf-8", errors="replace")

    def encode_iterable(self, lines):
        pending = ""
        for line in lines:
            pending += line
            spans = self._spans(pending)
            if len(spans) < 2:
                continue  # nothing is final yet
            for _, piece, is_special in spans[:-1]:
                yield from self._piece_ids(piece, is_special)
            pending = pending[spans[-1][0] :]  # the last piece may still grow with the next line
        yield from self.encode(pending)
