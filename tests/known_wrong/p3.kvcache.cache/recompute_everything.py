MISCONCEPTION = "a decode step recomputes the prefix"


class GPT(GPT):
    def forward(self, idx, targets=None, cache=None):
        if cache is None:
            return super().forward(idx, targets)
        B, T = idx.shape
        start = cache.length
        # "the cache": the token ids seen so far, and the whole prefix run again, which fills k and v anyway
        if not hasattr(cache, "ids"):
            cache.ids = torch.zeros(B, cache.max_len, dtype=torch.long, device=idx.device)
        cache.ids[:, start : start + T] = idx
        cache.length = 0
        x = self.tok_emb(cache.ids[:, : start + T]) + self.pos_emb(torch.arange(start + T, device=idx.device))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        cache.length = start + T
        logits = self.lm_head(self.ln_f(x))[:, start:]
        loss = None if targets is None else F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss
