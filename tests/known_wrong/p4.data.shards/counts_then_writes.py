MISCONCEPTION = "every document of the iterable is read, once"

_reference_write_shards = write_shards


def write_shards(documents, encode, out_dir, vocab_size, shard_tokens=1 << 24, val_fraction=0.05, eot=None):
    total = sum(len(encode(d)) for d in documents)  # a first pass to size things: a generator is then empty
    if total == 0:
        documents = []
    return _reference_write_shards(documents, encode, out_dir, vocab_size, shard_tokens, val_fraction, eot)
