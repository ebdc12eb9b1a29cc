MISCONCEPTION = "the activations are not multiplied by the layers"


def activation_elements(config, batch, seq):
    B, T, C, H = batch, seq, config.d_model, config.n_heads
    per_block = 16 * B * T * C + B * H * T * T
    return per_block + B * T * config.vocab_size  # "the activations flow through": one block's worth
