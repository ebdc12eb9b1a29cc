"""Phase 2 · A character-level tokenizer (reference)."""

UNK = "\ufffd"  # what an unknown character decodes to: the Unicode replacement character '�'


class CharTokenizer:
    def __init__(self, text: str):
        self.chars = sorted(set(text))  # sorted: the same text gives the same ids in every run
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        self.unk_id = len(self.chars)  # one id after the known characters, shared by every unknown one

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1  # the known characters and the unknown id

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(ch, self.unk_id) for ch in text]

    def decode(self, ids: list[int]) -> str:
        out = []
        for i in ids:
            if not 0 <= i < self.vocab_size:  # a list would wrap -1 around to the last character
                raise ValueError(f"token id {i} is outside the vocabulary 0..{self.vocab_size - 1}")
            out.append(self.itos.get(i, UNK))
        return "".join(out)
