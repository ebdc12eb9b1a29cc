MISCONCEPTION = "does not fit uint16"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    # ids are checked against the vocabulary, but the vocabulary is never checked against uint16
    return _reference_write_shards(documents, encode, out_dir, min(vocab_size, 1 << 16), shard_tokens, val_fraction, eot)
