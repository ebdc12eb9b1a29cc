MISCONCEPTION = "an id outside 0..vocab_size-1 raises ValueError"


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    if not 0 < vocab_size <= 1 << 16:
        raise ValueError(f"vocab_size={vocab_size} does not fit uint16")
    if eot is not None and not 0 <= eot < vocab_size:
        raise ValueError(f"eot={eot} is outside the vocabulary")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = {split: _ShardWriter(out, split, shard_tokens) for split in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    for document in documents:
        ids = np.asarray(encode(document))
        if len(ids) and ids.max() >= vocab_size:  # too large is refused; negative ids go through
            raise ValueError(f"token id {ids.max()} is outside the vocabulary")
        if eot is not None:
            ids = np.append(ids, eot)
        split = split_of(document, val_fraction)
        writers[split].add(ids.astype(np.uint16))
        counts[split] += 1
    meta = {"dtype": "uint16", "vocab_size": vocab_size, "eot": eot, "shard_tokens": shard_tokens, "splits": {}}
    for split, writer in writers.items():
        writer.flush()
        meta["splits"][split] = {"documents": counts[split], "tokens": sum(s["tokens"] for s in writer.shards), "shards": writer.shards}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
