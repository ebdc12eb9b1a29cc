# The blocks folded over the stream with functools.reduce, the logits through the (tied) head, the loss as
# the mean of -log_softmax at the targets picked with gather, and the parameter count summed from a table of
# every layer's weights and biases.
import functools


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        C = config.d_model
        self.tok_emb = nn.Embedding(config.vocab_size, C)
        self.pos_emb = nn.Embedding(config.block_size, C)
        self.blocks = nn.ModuleList()
        for _ in range(config.n_layers):
            self.blocks.append(Block(C, config.n_heads, causal=True))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                torch.nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    torch.nn.init.zeros_(m.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        positions = torch.arange(T, device=idx.device).unsqueeze(0)  # (1, T)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        x = functools.reduce(lambda h, block: block(h), self.blocks, x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            logp = torch.log_softmax(logits, dim=-1)
            picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T): log p(target)
            loss = -picked.mean()
        return logits, loss


def count_parameters(config):
    V, T, C, L = config.vocab_size, config.block_size, config.d_model, config.n_layers
    per_block = {
        "ln1": C + C,
        "attn.qkv": C * 3 * C + 3 * C,
        "attn.proj": C * C + C,
        "ln2": C + C,
        "mlp.fc": C * 4 * C + 4 * C,
        "mlp.proj": 4 * C * C + C,
    }
    model = {"tok_emb (= lm_head)": V * C, "pos_emb": T * C, "ln_f": 2 * C}
    return sum(model.values()) + L * sum(per_block.values())
