MISCONCEPTION = "MiB vs MB confusion"


def largest_batch(config, seq, memory_bytes, dtype="float32", optimizer="adamw"):
    budget = memory_bytes / 2**20  # the machine's memory in MiB, as nvidia-smi shows it
    fixed = training_memory(config, 0, seq, dtype, optimizer)["total"] / 1e6  # the costs in MB
    per_sequence = training_memory(config, 1, seq, dtype, optimizer)["total"] / 1e6 - fixed
    return max(0, int((budget - fixed) // per_sequence))
