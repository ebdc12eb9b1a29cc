MISCONCEPTION = "raise ValueError before writing"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    meta = _reference_write_shards(documents, encode, out_dir, min(vocab_size, 1 << 16), shard_tokens, val_fraction, eot)
    if vocab_size > 1 << 16:  # checked once the shards are on disk
        raise ValueError(f"vocab_size={vocab_size} does not fit uint16")
    return meta
