MISCONCEPTION = "special tokens are never split"


class BPETokenizer(BPETokenizer):
    def _pieces(self, text):
        return self._chunk_re.findall(text)  # '<|endoftext|>' becomes the chunks '<|', 'endoftext', '|>'
