MISCONCEPTION = "flatten logits to (B*T, V)"


class GPT(GPT):
    def forward(self, idx, targets=None):
        logits, _ = super().forward(idx)
        loss = None if targets is None else F.cross_entropy(logits, targets)  # (B, T, V) read as (N, C, d1)
        return logits, loss
