MISCONCEPTION = "count every weight and bias"


def count_parameters(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    return V * C + T * C + L * (12 * C * C + 4 * C) + 2 * C  # matrices and LayerNorms, no linear biases
