MISCONCEPTION = "pos_emb needs one row per position"


class GPT(GPT):
    def __init__(self, config):
        super().__init__(config)
        self.pos_emb = nn.Embedding(config.vocab_size, config.d_model)  # rows per token, not per position
