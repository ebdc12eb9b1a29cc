# The tie made the other way round (the embedding takes the head's matrix), the position vectors read by
# slicing pos_emb's table, the stream run through the blocks with an index loop, and the parameter count
# expanded into a single polynomial in C.


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        V, C = config.vocab_size, config.d_model
        self.lm_head = nn.Linear(C, V, bias=False)
        self.tok_emb = nn.Embedding(V, C)
        self.tok_emb.weight = self.lm_head.weight  # (V, C) either way: one tensor shared by both
        self.pos_emb = nn.Embedding(config.block_size, C)
        self.blocks = nn.ModuleList([Block(C, config.n_heads, causal=True) for _ in range(config.n_layers)])
        self.ln_f = nn.LayerNorm(C)
        with torch.no_grad():
            for name, p in self.named_parameters():  # a tied tensor is visited once
                if name.endswith("bias"):
                    p.zero_()
                elif p.dim() == 2:
                    p.normal_(0.0, 0.02)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"{T} tokens exceed block_size {self.config.block_size}")
        h = self.tok_emb(idx) + self.pos_emb.weight[:T]  # (B, T, C) + (T, C)
        for i in range(len(self.blocks)):
            h = self.blocks[i](h)
        logits = self.lm_head(self.ln_f(h))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def count_parameters(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    # per block: 2 LayerNorms (4C), qkv (3C² + 3C), proj (C² + C), fc (4C² + 4C), mlp proj (4C² + C)
    return (V + T) * C + L * (12 * C * C + 13 * C) + 2 * C
