MISCONCEPTION = "refuse with a clear error"


class KVCache(KVCache):
    def append(self, layer, k, v):
        end = self.length + k.size(2)  # no room check: the slice assignment fails, or writes a shorter slice
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]
