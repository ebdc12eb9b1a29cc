MISCONCEPTION = "off by one"


def largest_batch(config, seq, memory_bytes, dtype="float32", optimizer="adamw"):
    B = 0
    while training_memory(config, B, seq, dtype, optimizer)["total"] <= memory_bytes:
        B += 1
    return B  # the first batch that no longer fits
