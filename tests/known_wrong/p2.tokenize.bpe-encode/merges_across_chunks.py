MISCONCEPTION = "merges never cross chunk boundaries"


class BPETokenizer(BPETokenizer):
    def _pieces(self, text):
        parts = self._special_re.split(text) if self._special_re else [text]
        return [part for part in parts if part]  # the text between specials is not cut into chunks
