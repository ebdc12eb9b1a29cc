MISCONCEPTION = "a chunk can continue into the next line"


class BPETokenizer(BPETokenizer):
    def encode_iterable(self, lines):
        for line in lines:
            yield from self.encode(line)  # '\n' + the next line's indentation is cut in two
