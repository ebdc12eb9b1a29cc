MISCONCEPTION = "the tied head is counted twice"


def param_count(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    block = 12 * C * C + (13 * C if config.bias else 2 * C)
    ln_f = 2 * C if config.bias else C
    return V * C + T * C + L * block + ln_f + V * C  # the LM head's (V, C) matrix, tied or not
