MISCONCEPTION = "must raise ValueError"


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    N = param_count(config)
    nbytes = 4 if dtype == "float32" else 2  # any other name counts as 16 bits
    states = 2 if optimizer == "adamw" else 0
    parts = {
        "weights": nbytes * N,
        "grads": nbytes * N,
        "optimizer": 4 * states * N,
        "master": 4 * N if nbytes < 4 else 0,
        "activations": nbytes * activation_elements(config, batch, seq),
    }
    parts["total"] = sum(parts.values())
    return parts
