"""A shard drawn in proportion to its starts (torch.multinomial), then a start inside it; shards opened lazily."""


class TokenDataset:
    def __init__(self, data_dir, split):
        folder = Path(data_dir)
        with open(folder / "meta.json", encoding="utf-8") as f:
            meta = json.load(f)
        self.vocab_size = meta["vocab_size"]
        self.shards = [np.memmap(folder / e["file"], dtype=np.uint16, mode="r") for e in meta["splits"][split]["shards"]]

    def __len__(self):
        return int(sum(s.shape[0] for s in self.shards))

    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        weights = torch.tensor([float(max(0, s.shape[0] - block_size)) for s in self.shards])
        if weights.sum() == 0:
            raise ValueError(f"every shard is shorter than {block_size + 1} tokens")
        picks = torch.multinomial(weights, batch_size, replacement=True, generator=generator)
        x = torch.empty(batch_size, block_size, dtype=torch.long)
        y = torch.empty(batch_size, block_size, dtype=torch.long)
        for row, k in enumerate(picks.tolist()):
            start = int(torch.randint(int(weights[k]), (1,), generator=generator))
            window = torch.from_numpy(self.shards[k][start : start + block_size + 1].astype(np.int64))
            x[row], y[row] = window[:-1], window[1:]
        return x.to(device), y.to(device)
