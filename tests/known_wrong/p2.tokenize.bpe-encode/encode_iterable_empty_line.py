MISCONCEPTION = "must accept an empty line"


class BPETokenizer(BPETokenizer):
    def encode_iterable(self, lines):
        buffer = ""
        for line in lines:
            buffer += line
            pieces = self._pieces(buffer)
            for piece in pieces[:-1]:
                yield from self._encode_piece(piece)
            buffer = pieces[-1]  # no pieces at all when the text read so far is empty
        yield from self.encode(buffer)
