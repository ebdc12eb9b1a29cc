"""Phase 4 · The corpus as tokens on disk, and batches drawn from it (reference)."""

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
    """"val" for a stable fraction of documents, by a hash of their text; "train" for the rest."""
    digest = hashlib.blake2b(document.encode("utf-8"), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "little") / 2**64 < val_fraction else "train"


class _ShardWriter:
    """Tokens of one split, written to disk in shards of exactly `shard_tokens` (the last shorter)."""

    def __init__(self, out_dir: Path, split: str, shard_tokens: int):
        self.out_dir, self.split, self.shard_tokens = out_dir, split, shard_tokens
        self.buffer = np.empty(shard_tokens, dtype=np.uint16)  # the only token buffer there is
        self.filled = 0
        self.shards: list[dict] = []

    def add(self, ids: np.ndarray) -> None:
        while len(ids):
            take = min(len(ids), self.shard_tokens - self.filled)
            self.buffer[self.filled : self.filled + take] = ids[:take]
            self.filled += take
            ids = ids[take:]
            if self.filled == self.shard_tokens:
                self.flush()

    def flush(self) -> None:
        if self.filled == 0:
            return
        name = f"{self.split}_{len(self.shards):05d}.bin"
        self.buffer[: self.filled].astype("<u2", copy=False).tofile(self.out_dir / name)
        self.shards.append({"file": name, "tokens": self.filled})
        self.filled = 0


def write_shards(
    documents: Iterable[str],
    encode: Callable[[str], Sequence[int]],
    out_dir: str | os.PathLike,
    vocab_size: int,
    shard_tokens: int = 1 << 24,
    val_fraction: float = 0.05,
    eot: int | None = None,
) -> dict:
    if not 0 < vocab_size <= 1 << 16:
        raise ValueError(f"vocab_size={vocab_size}: ids up to {vocab_size - 1} do not fit in uint16 (0..65535); use uint32")
    if eot is not None and not 0 <= eot < vocab_size:
        raise ValueError(f"eot={eot} is not a token id of a vocabulary of {vocab_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = {split: _ShardWriter(out, split, shard_tokens) for split in SPLITS}
    documents_per_split = dict.fromkeys(SPLITS, 0)
    for document in documents:
        ids = np.asarray(encode(document), dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"encode returned shape {ids.shape}; expected a flat sequence of ids")
        if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
            bad = int(ids.max() if ids.max() >= vocab_size else ids.min())
            raise ValueError(f"token id {bad} is outside the vocabulary 0..{vocab_size - 1}")
        if eot is not None:
            ids = np.append(ids, eot)
        split = split_of(document, val_fraction)
        writers[split].add(ids)
        documents_per_split[split] += 1
    meta = {"dtype": "uint16", "vocab_size": vocab_size, "eot": eot, "shard_tokens": shard_tokens, "splits": {}}
    for split, writer in writers.items():
        writer.flush()
        tokens = sum(s["tokens"] for s in writer.shards)
        meta["splits"][split] = {"documents": documents_per_split[split], "tokens": tokens, "shards": writer.shards}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


# -- p4.data.batches ----------------------------------------------------------------------------


class TokenDataset:
    def __init__(self, data_dir: str | os.PathLike, split: str):
        folder = Path(data_dir)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("dtype") != "uint16":
            raise ValueError(f"{folder / 'meta.json'} says dtype {meta.get('dtype')!r}; this reader takes uint16")
        self.vocab_size = meta["vocab_size"]
        self.shards = [
            np.memmap(folder / s["file"], dtype="<u2", mode="r", shape=(s["tokens"],))
            for s in meta["splits"][split]["shards"]
        ]

    def __len__(self) -> int:
        return sum(len(s) for s in self.shards)

    def get_batch(
        self, batch_size: int, block_size: int, generator: torch.Generator, device: str | torch.device = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # a window needs block_size + 1 tokens of one shard: a shard of n tokens has n - block_size starts
        starts_per_shard = torch.tensor([max(0, len(s) - block_size) for s in self.shards], dtype=torch.int64)
        total = int(starts_per_shard.sum())
        if total == 0:
            raise ValueError(f"no shard holds block_size + 1 = {block_size + 1} tokens")
        # one start drawn uniformly among all of them, then found in its shard
        flat = torch.randint(total, (batch_size,), generator=generator)
        ends = starts_per_shard.cumsum(0)
        shard = torch.searchsorted(ends, flat, right=True)
        offset = flat - (ends[shard] - starts_per_shard[shard])
        windows = np.stack([self.shards[s][o : o + block_size + 1] for s, o in zip(shard.tolist(), offset.tolist())])
        chunk = torch.from_numpy(windows.astype(np.int64))
        x, y = chunk[:, :-1], chunk[:, 1:]  # y[t] is the token after x[t]
        return x.to(device), y.to(device)
