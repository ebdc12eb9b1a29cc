MISCONCEPTION = "the attention matrix is forgotten"


def activation_elements(config, batch, seq):
    B, T, C = batch, seq, config.d_model
    per_block = 16 * B * T * C  # the (B, T, C)-shaped tensors only: the softmax weights left out
    return config.n_layers * per_block + B * T * config.vocab_size
