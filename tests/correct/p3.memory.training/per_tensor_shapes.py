"""A learner who lists every tensor by its shape and multiplies them out, and searches for the batch."""

import math


def param_count(config):
    V, C = config.vocab_size, config.d_model
    b = config.bias
    block_shapes = [(C,), (C,) if b else None, (3 * C, C), (3 * C,) if b else None, (C, C), (C,) if b else None,
                    (C,), (C,) if b else None, (4 * C, C), (4 * C,) if b else None, (C, 4 * C), (C,) if b else None]
    block = sum(math.prod(s) for s in block_shapes if s)
    shapes = [(V, C), (config.block_size, C), (C,)] + ([(C,)] if b else []) + ([] if config.tied else [(V, C)])
    return sum(math.prod(s) for s in shapes) + config.n_layers * block


def training_memory(config, batch, seq, dtype="float32", optimizer="adamw"):
    size = {"float32": 4, "bfloat16": 2, "float16": 2}.get(dtype)
    states = {"adamw": 2, "sgd": 0}.get(optimizer)
    if size is None or states is None:
        raise ValueError(f"unsupported dtype {dtype} or optimizer {optimizer}")
    B, T, C, H, V = batch, seq, config.d_model, config.n_heads, config.vocab_size
    saved = [(B, T, C), (B, T, C), (3, B, T, C), (B, H, T, T), (B, T, C), (2, B, T, C), (4, B, T, C), (4, B, T, C)]
    elements = config.n_layers * sum(math.prod(s) for s in saved) + B * T * V
    N = param_count(config)
    out = dict(weights=N * size, grads=N * size, optimizer=N * states * 4.0, master=0 if size == 4 else N * 4,
               activations=elements * size)
    out["total"] = sum(out.values())
    return out


def largest_batch(config, seq, memory_bytes, dtype="float32", optimizer="adamw"):
    lo, hi = 0, 1
    total = lambda b: training_memory(config, b, seq, dtype, optimizer)["total"]  # noqa: E731
    if total(0) > memory_bytes:
        return 0
    while total(hi) <= memory_bytes:  # double until it no longer fits, then bisect
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if total(mid) <= memory_bytes else (lo, mid)
    return lo
