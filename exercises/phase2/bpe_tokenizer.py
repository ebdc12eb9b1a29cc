"""Phase 2 · Encoding and decoding with byte-level BPE.

Given the merges that train_bpe learnt, write `BPETokenizer`: encode text into ids by applying the
merges in the order they were learnt, decode ids back into text, keep special tokens such as
`<|endoftext|>` whole, and encode a large text line by line without holding all of it.
Every string must survive the round trip: decode(encode(s)) == s.
"""

import re
from typing import Iterable, Iterator

# Given complete: the chunk pattern of p2.tokenize.bpe-train. Merges never cross a chunk boundary.
SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Every occurrence of `pair` replaced by `new_id`, left to right. Given complete (your step before)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """A byte-level BPE tokenizer: 256 byte ids, one id per merge, then the special tokens.

    __init__(merges, special_tokens=()): merges[k] = (a, b) made id 256 + k (as train_bpe returns
    them). Build
      - the rank of each pair (merges[k] has rank k),
      - `self.vocab`: id -> bytes, with vocab[i] = bytes([i]) for i < 256 and
        vocab[256 + k] = vocab[a] + vocab[b],
      - the ids of the special tokens: 256 + len(merges) + j for special_tokens[j].

    vocab_size: 256 + len(merges) + len(special_tokens).

    encode(text) -> list[int]: special tokens first (each occurrence becomes its one id, never split
    and never merged with its neighbours), then the text between them cut with SPLIT_PATTERN; each
    chunk starts as its UTF-8 bytes, and the adjacent pair with the lowest rank is merged, again and
    again, until no adjacent pair has a rank.

    decode(ids) -> str: the bytes of all the ids joined, then decoded once as UTF-8 with
    errors="replace" (a sequence of ids need not form valid UTF-8).

    encode_iterable(lines) -> iterator of ids: the same ids as encode("".join(lines)), yielded while
    reading `lines` (an iterable of strings such as an open file, which yields lines ending in "\\n";
    special tokens never span two lines). Never join or list all the lines: a file can be larger
    than memory.

    Pointer: `min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))` finds the pair to
    merge next; stop when it has no rank.
    """

    def __init__(self, merges: list[tuple[int, int]], special_tokens: Iterable[str] = ()):
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def encode_iterable(self, lines: Iterable[str]) -> Iterator[int]:
        raise NotImplementedError
