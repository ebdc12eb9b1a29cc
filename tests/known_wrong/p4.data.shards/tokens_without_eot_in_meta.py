MISCONCEPTION = "'documents' and 'tokens' of train count what was written"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    meta = _reference_write_shards(documents, encode, out_dir, vocab_size, shard_tokens, val_fraction, eot)
    for info in meta["splits"].values():
        if eot is not None:
            info["tokens"] -= info["documents"]  # counts the documents' ids, not the separators written
    (Path(out_dir) / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
