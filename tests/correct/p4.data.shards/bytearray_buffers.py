"""A bytearray per split, cut into shards whenever it reaches shard_tokens; the hash via int.from_bytes."""

import hashlib
import json
from pathlib import Path

import numpy as np


def split_of(document, val_fraction):
    h = hashlib.blake2b(digest_size=8)
    h.update(document.encode("utf-8"))
    return "val" if int.from_bytes(h.digest(), byteorder="little") / float(1 << 64) < val_fraction else "train"


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    if not 1 <= vocab_size <= 1 << 16:
        raise ValueError("vocab_size must fit uint16")
    if eot is not None and eot not in range(vocab_size):
        raise ValueError("eot outside the vocabulary")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pending = {"train": bytearray(), "val": bytearray()}
    files = {"train": [], "val": []}
    docs = {"train": 0, "val": 0}

    def emit(split, data):
        name = f"{split}_{len(files[split]):05d}.bin"
        (out / name).write_bytes(data)
        files[split].append({"file": name, "tokens": len(data) // 2})

    for document in documents:
        ids = np.asarray(encode(document), dtype=np.int64)
        if ids.size and not (0 <= ids.min() and ids.max() < vocab_size):
            raise ValueError("an id outside the vocabulary")
        data = ids.astype("<u2").tobytes() + (b"" if eot is None else int(eot).to_bytes(2, "little"))
        split = split_of(document, val_fraction)
        docs[split] += 1
        buf = pending[split]
        buf += data
        while len(buf) >= 2 * shard_tokens:
            emit(split, bytes(buf[: 2 * shard_tokens]))
            del buf[: 2 * shard_tokens]
    meta = {"dtype": "uint16", "vocab_size": vocab_size, "eot": eot, "shard_tokens": shard_tokens, "splits": {}}
    for split in ("train", "val"):
        if pending[split]:
            emit(split, bytes(pending[split]))
        meta["splits"][split] = {"documents": docs[split], "tokens": sum(f["tokens"] for f in files[split]), "shards": files[split]}
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return meta
