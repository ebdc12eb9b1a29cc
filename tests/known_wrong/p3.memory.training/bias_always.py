MISCONCEPTION = "with bias=False no Linear and no LayerNorm has a bias"


def param_count(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    head = 0 if config.tied else V * C
    return V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C + head  # bias flag ignored
