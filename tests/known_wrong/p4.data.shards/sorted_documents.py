MISCONCEPTION = "documents keep the order they come in"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    return _reference_write_shards(sorted(documents, key=len), encode, out_dir, vocab_size, shard_tokens, val_fraction, eot)
