MISCONCEPTION = "each shard is picked with equal probability"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        usable = [s for s in self.shards if len(s) > block_size]
        if not usable:
            raise ValueError("no shard is long enough")
        rows = []
        for _ in range(batch_size):  # a shard first, then a start inside it
            shard = usable[int(torch.randint(len(usable), (1,), generator=generator))]
            start = int(torch.randint(len(shard) - block_size, (1,), generator=generator))
            rows.append(shard[start : start + block_size + 1].astype(np.int64))
        chunk = torch.from_numpy(np.stack(rows))
        return chunk[:, :-1].to(device), chunk[:, 1:].to(device)
