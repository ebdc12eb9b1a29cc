"""Phase 2 · Encoding and decoding with byte-level BPE, special tokens, streaming (reference)."""

import re
from typing import Iterable, Iterator

SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
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
    def __init__(self, merges: list[tuple[int, int]], special_tokens: Iterable[str] = ()):
        self.merges = [tuple(pair) for pair in merges]
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}  # merge k made id 256 + k
        self.vocab = {i: bytes([i]) for i in range(256)}
        for rank, (a, b) in enumerate(self.merges):
            self.vocab[256 + rank] = self.vocab[a] + self.vocab[b]  # a token's bytes: its two parts'
        # special tokens come after every merge, in the order given
        self.special_ids = {tok: 256 + len(self.merges) + j for j, tok in enumerate(special_tokens)}
        for tok, i in self.special_ids.items():
            self.vocab[i] = tok.encode("utf-8")
        # longest first, so that a special token that starts another one never cuts the longer one
        alternatives = sorted(self.special_ids, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")") if alternatives else None
        self._chunk_re = re.compile(SPLIT_PATTERN)
        self._cache: dict[str, list[int]] = {}  # chunk -> ids: real text repeats its words

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges) + len(self.special_ids)

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in self._pieces(text):
            ids.extend(self._encode_piece(piece))
        return ids

    def decode(self, ids: list[int]) -> str:
        # join the bytes first: a character's bytes may be spread over several tokens
        data = b"".join(self.vocab[i] for i in ids)
        return data.decode("utf-8", errors="replace")  # ids a model made up need not be valid UTF-8

    def encode_iterable(self, lines: Iterable[str]) -> Iterator[int]:
        buffer = ""
        for line in lines:
            buffer += line
            pieces = self._pieces(buffer)
            # the last piece may continue in the next line ('\n' + '\n' is one chunk); the others are final
            for piece in pieces[:-1]:
                yield from self._encode_piece(piece)
            buffer = pieces[-1] if pieces else ""
        yield from self.encode(buffer)

    def _pieces(self, text: str) -> list[str]:
        """Special tokens whole, and the chunks of the text between them."""
        parts = self._special_re.split(text) if self._special_re else [text]
        pieces = []
        for j, part in enumerate(parts):
            if j % 2 == 1:  # re.split with a group puts the separators (specials) at odd positions
                pieces.append(part)
            else:
                pieces.extend(self._chunk_re.findall(part))
        return pieces

    def _encode_piece(self, piece: str) -> list[int]:
        if piece in self.special_ids:
            return [self.special_ids[piece]]
        if piece not in self._cache:
            self._cache[piece] = self._encode_chunk(piece)
        return self._cache[piece]

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # the pair that was merged earliest in training (lowest rank), not the most frequent one here
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break  # no pair of this chunk was ever merged
            ids = merge(ids, pair, 256 + self.ranks[pair])
        return ids
