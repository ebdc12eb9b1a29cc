MISCONCEPTION = "one (T, T) matrix per head"


def activation_elements(config, batch, seq):
    B, T, C = batch, seq, config.d_model
    per_block = 16 * B * T * C + B * T * T  # one attention matrix per sequence, as if one head
    return config.n_layers * per_block + B * T * config.vocab_size
