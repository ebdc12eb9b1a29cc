"""Another style: narrow().copy_() into the buffers, einsum attention with an additive float mask built at
every step (also for one token), positions sliced from the embedding table, the length kept by GPT."""


class KVCache:
    def __init__(self, n_layers, batch_size, n_heads, max_len, head_dim, dtype=torch.float32, device=None):
        self.k = torch.zeros(n_layers, batch_size, n_heads, max_len, head_dim, dtype=dtype, device=device)
        self.v = torch.zeros_like(self.k)
        self.max_len = max_len
        self.length = 0

    def append(self, layer, k, v):
        T = k.shape[2]
        if self.length + T > self.max_len:
            raise ValueError(f"cannot cache {self.length + T} positions: max_len is {self.max_len}")
        self.k[layer].narrow(2, self.length, T).copy_(k)
        self.v[layer].narrow(2, self.length, T).copy_(v)
        n = self.length + T
        return self.k[layer].narrow(2, 0, n), self.v[layer].narrow(2, 0, n)

    def advance(self, T):
        self.length = self.length + T

    def reset(self):
        self.length = 0

    def nbytes(self):
        return 2 * self.k.numel() * self.k.element_size()


class CausalSelfAttention(CausalSelfAttention):
    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        H = self.n_heads
        q, k, v = self.qkv(x).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)  # each (B, H, T, Dh)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        S = k.shape[2]
        query_pos = torch.arange(S - T, S, device=x.device)[:, None]  # (T, 1): absolute positions
        key_pos = torch.arange(S, device=x.device)[None, :]  # (1, S)
        bias = torch.zeros(T, S, dtype=q.dtype, device=x.device).masked_fill(key_pos > query_pos, float("-inf"))
        scores = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(C // H) + bias
        y = torch.einsum("bhts,bhsd->bhtd", scores.softmax(dim=-1), v)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class GPT(GPT):
    def forward(self, idx, targets=None, cache=None):
        B, T = idx.shape
        start = 0 if cache is None else cache.length
        if start + T > self.config.block_size:
            raise ValueError("past block_size")
        x = self.tok_emb(idx) + self.pos_emb.weight[start : start + T]
        for i in range(len(self.blocks)):
            x = self.blocks[i](x, cache, i)
        if cache is not None:
            cache.advance(T)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss
