"""Cumulative start counts kept from __init__ per block size, a shard found with bisect, windows as uint16 then int64."""

import bisect


class TokenDataset:
    def __init__(self, data_dir, split):
        meta = json.loads((Path(data_dir) / "meta.json").read_text(encoding="utf-8"))
        self.vocab_size = meta["vocab_size"]
        entries = meta["splits"][split]["shards"]
        self.shards = [np.memmap(Path(data_dir) / e["file"], dtype="<u2", mode="r", shape=(e["tokens"],)) for e in entries]
        self._ends = {}

    def __len__(self):
        return sum(map(len, self.shards))

    def _cumulative(self, block_size):
        if block_size not in self._ends:
            ends, total = [], 0
            for s in self.shards:
                total += max(0, len(s) - block_size)
                ends.append(total)
            self._ends[block_size] = ends
        return self._ends[block_size]

    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        ends = self._cumulative(block_size)
        if not ends or ends[-1] == 0:
            raise ValueError("no shard holds a whole window")
        draws = torch.randint(0, ends[-1], (batch_size,), generator=generator).tolist()
        windows = np.empty((batch_size, block_size + 1), dtype=np.uint16)
        for row, i in enumerate(draws):
            k = bisect.bisect_right(ends, i)
            offset = i - (ends[k - 1] if k else 0)
            windows[row] = self.shards[k][offset : offset + block_size + 1]
        both = torch.from_numpy(windows.astype(np.int64)).to(device)
        return both[:, :-1], both[:, 1:]
