MISCONCEPTION = "the LM head is not tied to the token embedding"


class GPT(GPT):
    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)  # a second (V, C) matrix
