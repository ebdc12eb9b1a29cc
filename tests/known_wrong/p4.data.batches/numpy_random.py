MISCONCEPTION = "depends on the global torch/numpy/random seed"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        counts = np.array([max(0, len(s) - block_size) for s in self.shards])
        if counts.sum() == 0:
            raise ValueError("no shard is long enough")
        flat = np.random.randint(counts.sum(), size=batch_size)
        ends = np.cumsum(counts)
        shard = np.searchsorted(ends, flat, side="right")
        offset = flat - (ends[shard] - counts[shard])
        chunk = torch.from_numpy(np.stack([self.shards[k][o : o + block_size + 1] for k, o in zip(shard, offset)]).astype(np.int64))
        return chunk[:, :-1].to(device), chunk[:, 1:].to(device)
