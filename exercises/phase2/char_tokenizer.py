"""Phase 2 · A character-level tokenizer.

A tokenizer turns text into a list of integer ids, the only input a language model reads, and
turns ids back into text. The simplest one gives every distinct character of a training text its
own id. Write `CharTokenizer`: build the vocabulary from a text, encode, decode, and decide what
happens to a character the training text never contained.
"""

UNK = "\ufffd"  # what an unknown character decodes to: the Unicode replacement character '�'


class CharTokenizer:
    """A vocabulary of the distinct characters of `text`, plus one id for unknown characters.

    __init__(text): the known characters get ids 0..n-1 in sorted order (by code point, as
    `sorted` orders strings), so the same text gives the same ids in every run. The unknown id,
    `self.unk_id`, is n: one past the last known character.

    vocab_size: n + 1, the known characters and the unknown id.

    encode(text) -> list[int]: one id per character; a character outside the vocabulary gets unk_id.

    decode(ids) -> str: the characters of the ids joined with nothing in between; unk_id decodes
    to UNK. An id outside 0..vocab_size-1 raises ValueError.

    Pointer: `sorted(set(text))` lists each distinct character once, in a fixed order.
    """

    def __init__(self, text: str):
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError
