MISCONCEPTION = "the logits are forgotten"


def activation_elements(config, batch, seq):
    B, T, C, H = batch, seq, config.d_model, config.n_heads
    return config.n_layers * (16 * B * T * C + B * H * T * T)  # the blocks only
