MISCONCEPTION = "counts the LM head's matrix again"


def count_parameters(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    return V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C + V * C  # the tied head counted as its own
