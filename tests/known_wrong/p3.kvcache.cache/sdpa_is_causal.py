MISCONCEPTION = "the mask during decode hides cached keys"


class CausalSelfAttention(CausalSelfAttention):
    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        q, k, v = (split_heads(t, self.n_heads) for t in self.qkv(x).split(C, dim=2))
        if cache is not None:
            k, v = cache.append(layer, k, v)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # top-left aligned when T != S
        return self.proj(merge_heads(y))
