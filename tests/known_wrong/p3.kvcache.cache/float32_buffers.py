MISCONCEPTION = "has the dtype passed in"


class KVCache(KVCache):
    def __init__(self, n_layers, batch_size, n_heads, max_len, head_dim, dtype=torch.float32, device=None):
        super().__init__(n_layers, batch_size, n_heads, max_len, head_dim, torch.float32, device)  # dtype ignored
