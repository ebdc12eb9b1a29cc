MISCONCEPTION = "advanced once per forward"


class KVCache(KVCache):
    def append(self, layer, k, v):
        start, end = self.length, self.length + k.size(2)
        if end > self.max_len:
            raise ValueError(f"KV cache full: max_len {self.max_len}")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        self.length = end  # "the cache grew": moved by every layer
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, T):
        pass  # append already moved it
