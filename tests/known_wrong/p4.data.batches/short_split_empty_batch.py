MISCONCEPTION = "when no shard holds block_size + 1 tokens, get_batch raises ValueError"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        if all(len(s) <= block_size for s in self.shards):
            empty = torch.zeros(0, block_size, dtype=torch.int64, device=device)
            return empty, empty.clone()
        return super().get_batch(batch_size, block_size, generator, device)
