MISCONCEPTION = "the total is in MiB (2^20 bytes), not in bytes"


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    if dtype not in BYTES or optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown dtype {dtype!r} or optimizer {optimizer!r}")
    N, nbytes = param_count(config), BYTES[dtype]
    parts = {
        "weights": nbytes * N,
        "grads": nbytes * N,
        "optimizer": 4 * OPTIMIZER_STATES[optimizer] * N,
        "master": 4 * N if nbytes < 4 else 0,
        "activations": nbytes * activation_elements(config, batch, seq),
    }
    parts["total"] = sum(parts.values()) / 2**20  # reported in MiB, to be readable
    return parts
