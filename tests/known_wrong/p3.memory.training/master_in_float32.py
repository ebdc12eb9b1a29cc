MISCONCEPTION = "a master copy is counted in float32 training"


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    if dtype not in BYTES or optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown dtype {dtype!r} or optimizer {optimizer!r}")
    N, nbytes = param_count(config), BYTES[dtype]
    parts = {
        "weights": nbytes * N,
        "grads": nbytes * N,
        "optimizer": 4 * OPTIMIZER_STATES[optimizer] * N,
        "master": 4 * N,  # always a float32 master copy, even when the weights already are float32
        "activations": nbytes * activation_elements(config, batch, seq),
    }
    parts["total"] = sum(parts.values())
    return parts
