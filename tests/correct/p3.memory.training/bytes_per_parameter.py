"""Per-parameter bytes first, then the activations as per-token and per-pair terms."""

SIZES = {"float32": 4, "bfloat16": 2, "float16": 2}


def param_count(config):
    C, L = config.d_model, config.n_layers
    per_block = 12 * C**2 + (13 if config.bias else 2) * C
    embeddings = (config.vocab_size + config.block_size) * C
    head = config.vocab_size * C * (not config.tied)
    return embeddings + L * per_block + (2 if config.bias else 1) * C + head


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    if dtype not in SIZES:
        raise ValueError(dtype)
    if optimizer not in ("adamw", "sgd"):
        raise ValueError(optimizer)
    s, N = SIZES[dtype], param_count(config)
    mixed = s == 2
    per_token = config.n_layers * 16 * config.d_model + config.vocab_size  # elements per (sequence, position)
    per_pair = config.n_layers * config.n_heads  # elements per (sequence, query, key)
    act = s * batch * (seq * per_token + seq * seq * per_pair)
    parts = {
        "weights": s * N,
        "grads": s * N,
        "optimizer": 8 * N if optimizer == "adamw" else 0,
        "master": 4 * N * mixed,
        "activations": act,
    }
    return {**parts, "total": sum(parts.values())}


def largest_batch(config, seq, memory_bytes, dtype="float32", optimizer="adamw"):
    empty = training_memory(config, 0, seq, dtype, optimizer)["total"]
    one = training_memory(config, 1, seq, dtype, optimizer)["activations"]
    return 0 if memory_bytes < empty else int((memory_bytes - empty) // one)
