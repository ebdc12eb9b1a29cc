"""Phase 4 · The corpus as tokens on disk, and batches drawn from it.

Two steps fill this file:
  p4.data.shards   split_of and write_shards: documents -> uint16 shards + meta.json, in one pass
  p4.data.batches  TokenDataset: the shards memory-mapped, and get_batch drawing windows uniformly

The layout on disk (out_dir):
  train_00000.bin, train_00001.bin, ...   raw little-endian uint16 token ids, no header
  val_00000.bin, ...
  meta.json   {"dtype": "uint16", "vocab_size": V, "eot": id or null, "shard_tokens": N,
               "splits": {"train": {"documents": d, "tokens": t, "shards": [{"file": name, "tokens": n}, ...]},
                          "val":   {...}}}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

SPLITS = ("train", "val")

# -- p4.data.shards -----------------------------------------------------------------------------


def split_of(document: str, val_fraction: float) -> str:
    """"val" or "train" for `document`, the same in every run and on every machine.

    The first 8 bytes of hashlib.blake2b(document.encode("utf-8"), digest_size=8), read as a
    little-endian unsigned integer and divided by 2**64, give a number in [0, 1); the document goes
    to "val" when that number is below `val_fraction`, else to "train".
    """
    raise NotImplementedError


def write_shards(
    documents: Iterable[str],
    encode: Callable[[str], Sequence[int]],
    out_dir: str | os.PathLike,
    vocab_size: int,
    shard_tokens: int = 1 << 24,
    val_fraction: float = 0.05,
    eot: int | None = None,
) -> dict:
    """Tokenize `documents` (any iterable, read once, possibly larger than memory) into shards.

    - each document is encoded with `encode` (a list or a 1-D array of ints), followed by `eot`
      when it is not None, and appended to the tokens of its split (split_of(document, val_fraction)),
      in the order the documents come;
    - a split's tokens go to {split}_{index:05d}.bin files of exactly `shard_tokens` tokens, the last
      one shorter (no empty file; a split with no tokens has no shard); a document may run over into
      the next shard;
    - memory stays flat: at most about one shard of tokens and one document are held at a time;
    - ValueError, before writing anything, when vocab_size is not 1..65536 (what uint16 holds) or eot
      is not an id of the vocabulary; ValueError when encode returns an id outside
      0..vocab_size-1;
    - out_dir is created if missing; meta.json (see the top of this file) is written last and also
      returned as a dict.
    """
    raise NotImplementedError


# -- p4.data.batches ----------------------------------------------------------------------------


class TokenDataset:
    """One split of a folder written by write_shards, read through np.memmap (nothing loaded into RAM).

    Attributes:
      shards      list of np.memmap, one per shard file, dtype uint16, in the order of meta.json
      vocab_size  from meta.json
    """

    def __init__(self, data_dir: str | os.PathLike, split: str):
        raise NotImplementedError

    def __len__(self) -> int:
        """Tokens in the split, over all its shards."""
        raise NotImplementedError

    def get_batch(
        self, batch_size: int, block_size: int, generator: torch.Generator, device: str | torch.device = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch_size` windows of `block_size` tokens, x and y, each (batch_size, block_size) int64 on `device`.

        - a window is block_size + 1 consecutive tokens of ONE shard: x its first block_size, y its
          last block_size (y[:, t] is the token that follows x[:, t]);
        - every start position that fits, in any shard, is equally likely: a shard of n tokens has
          n - block_size starts (none when n <= block_size);
        - random numbers come only from `generator` (the global torch, numpy and random generators are
          neither used nor advanced), so the same generator state gives the same batch;
        - ValueError when no shard holds block_size + 1 tokens.
        """
        raise NotImplementedError
