MISCONCEPTION = "consume its input lazily"


class BPETokenizer(BPETokenizer):
    def encode_iterable(self, lines):
        yield from self.encode("".join(lines))  # the whole input in memory before the first id
