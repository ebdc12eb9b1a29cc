MISCONCEPTION = "the first forward, from an empty cache, already differs"


class CausalSelfAttention(CausalSelfAttention):
    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        if cache is None:
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            return self.proj(merge_heads(scaled_dot_product_attention(q, k, v, mask)))
        k, v = cache.append(layer, k, v)
        # "with a cache there is no future to hide": true for one new token, not for a prompt
        return self.proj(merge_heads(scaled_dot_product_attention(q, k, v)))
