MISCONCEPTION = "AdamW's two states stay float32 in mixed precision"


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    if dtype not in BYTES or optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown dtype {dtype!r} or optimizer {optimizer!r}")
    N, nbytes = param_count(config), BYTES[dtype]
    parts = {
        "weights": nbytes * N,
        "grads": nbytes * N,
        "optimizer": nbytes * OPTIMIZER_STATES[optimizer] * N,  # m and v in the training dtype
        "master": 4 * N if nbytes < 4 else 0,
        "activations": nbytes * activation_elements(config, batch, seq),
    }
    parts["total"] = sum(parts.values())
    return parts
