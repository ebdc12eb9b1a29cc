MISCONCEPTION = "the cache must be preallocated and written in place"


class KVCache:
    def __init__(self, n_layers, batch_size, n_heads, max_len, head_dim, dtype=torch.float32, device=None):
        empty = torch.zeros(n_layers, batch_size, n_heads, 0, head_dim, dtype=dtype, device=device)
        self.k, self.v = empty, empty.clone()
        self.max_len, self.length = max_len, 0
        self.shape = (n_layers, batch_size, n_heads, max_len, head_dim)
        self.dtype = dtype

    def append(self, layer, k, v):
        end = self.length + k.size(2)
        if end > self.max_len:
            raise ValueError(f"KV cache full: max_len {self.max_len}")
        if layer == 0 and self.k.size(3) < end:  # grow every layer by the new positions
            grow = torch.zeros(*self.k.shape[:3], end - self.k.size(3), self.k.size(4), dtype=self.k.dtype, device=self.k.device)
            self.k, self.v = torch.cat([self.k, grow], dim=3), torch.cat([self.v, grow], dim=3)
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, T):
        self.length += T

    def reset(self):
        self.length = 0

    def nbytes(self):
        L, B, H, T, Dh = self.shape
        return 2 * L * B * H * T * Dh * torch.finfo(self.dtype).bits // 8
