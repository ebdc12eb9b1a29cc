MISCONCEPTION = "it goes after each document, not before"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    if eot is None:
        return _reference_write_shards(documents, encode, out_dir, vocab_size, shard_tokens, val_fraction)
    meta = _reference_write_shards(documents, lambda d: [eot, *encode(d)], out_dir, vocab_size, shard_tokens, val_fraction)
    meta["eot"] = eot  # a separator in front of each document
    (Path(out_dir) / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
