MISCONCEPTION = "the prefill is right but the later forwards differ"


class KVCache(KVCache):
    def append(self, layer, k, v):
        T = k.size(2)
        end = self.length + T
        if end > self.max_len:
            raise ValueError(f"KV cache full: max_len {self.max_len}")
        self.k[layer, :, :, :T] = k  # always at the front: each new token overwrites position 0
        self.v[layer, :, :, :T] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]
