"""Shards written through an np.memmap per shard, the split by struct, ids checked per document."""

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np


def split_of(document, val_fraction):
    (number,) = struct.unpack("<Q", hashlib.blake2b(document.encode("utf-8"), digest_size=8).digest())
    return "val" if number / 2**64 < val_fraction else "train"


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    if vocab_size > 65536 or vocab_size <= 0:
        raise ValueError(f"vocab_size {vocab_size} needs more than 16 bits")
    if eot is not None and not (0 <= eot < vocab_size):
        raise ValueError(f"eot {eot} is not in the vocabulary")
    out = Path(out_dir)
    os.makedirs(out, exist_ok=True)
    state = {s: {"map": None, "fill": 0, "shards": [], "documents": 0} for s in ("train", "val")}

    def close(split):
        st = state[split]
        if st["map"] is None:
            return
        st["map"].flush()
        name = st["map"].filename
        del st["map"]
        st["map"] = None
        if st["fill"] < shard_tokens:  # shrink the last file to what it holds
            os.truncate(name, 2 * st["fill"])
        st["shards"].append({"file": os.path.basename(name), "tokens": st["fill"]})
        st["fill"] = 0

    for document in documents:
        ids = np.asarray(encode(document)).astype(np.int64)
        if eot is not None:
            ids = np.concatenate([ids, [eot]])
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError("an id outside the vocabulary")
        split = split_of(document, val_fraction)
        st = state[split]
        st["documents"] += 1
        pos = 0
        while pos < len(ids):
            if st["map"] is None:
                path = out / f"{split}_{len(st['shards']):05d}.bin"
                st["map"] = np.memmap(path, dtype="<u2", mode="w+", shape=(shard_tokens,))
            n = min(len(ids) - pos, shard_tokens - st["fill"])
            st["map"][st["fill"] : st["fill"] + n] = ids[pos : pos + n]
            st["fill"] += n
            pos += n
            if st["fill"] == shard_tokens:
                close(split)
    meta = {"dtype": "uint16", "vocab_size": vocab_size, "eot": eot, "shard_tokens": shard_tokens, "splits": {}}
    for split in ("train", "val"):
        close(split)
        st = state[split]
        meta["splits"][split] = {"documents": st["documents"], "tokens": sum(s["tokens"] for s in st["shards"]), "shards": st["shards"]}
    with open(out / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return meta
