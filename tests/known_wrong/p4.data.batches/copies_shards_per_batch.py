MISCONCEPTION = "opening the split reads the shards into memory"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        shards = self.shards
        self.shards = [np.array(s) for s in shards]  # a copy of each shard, to slice it faster
        try:
            return super().get_batch(batch_size, block_size, generator, device)
        finally:
            self.shards = shards
