MISCONCEPTION = "n - block_size starts, not n - block_size + 1"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        counts = torch.tensor([max(0, len(s) - block_size + 1) for s in self.shards])
        if int(counts.sum()) == 0:
            raise ValueError("no shard is long enough")
        flat = torch.randint(int(counts.sum()), (batch_size,), generator=generator)
        ends = counts.cumsum(0)
        shard = torch.searchsorted(ends, flat, right=True)
        offset = flat - (ends[shard] - counts[shard])
        rows = [self.shards[k][o : o + block_size + 1].astype(np.int64) for k, o in zip(shard.tolist(), offset.tolist())]
        rows = [np.pad(r, (0, block_size + 1 - len(r))) for r in rows]  # a short last window padded with 0
        chunk = torch.from_numpy(np.stack(rows))
        return chunk[:, :-1].to(device), chunk[:, 1:].to(device)
