"""PyTorch's fused attention with an explicit bool mask (not is_causal), the room checked before writing,
and a cache whose append returns the slices through index arithmetic."""


class KVCache(KVCache):
    def append(self, layer, k, v):
        start = self.length
        stop = start + k.size(-2)
        if stop > self.max_len:
            raise ValueError(f"KVCache holds max_len={self.max_len} positions; {stop} requested")
        self.k[layer, ..., start:stop, :] = k
        self.v[layer, ..., start:stop, :] = v
        return self.k[layer, ..., :stop, :], self.v[layer, ..., :stop, :]


class CausalSelfAttention(CausalSelfAttention):
    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        if cache is not None:
            k, v = cache.append(layer, k, v)
        S = k.size(2)
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))
