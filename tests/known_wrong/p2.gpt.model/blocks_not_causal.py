MISCONCEPTION = "the model is not causal"


class GPT(GPT):
    def __init__(self, config):
        super().__init__(config)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_heads) for _ in range(config.n_layers))  # causal=False
