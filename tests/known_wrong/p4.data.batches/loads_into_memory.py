MISCONCEPTION = "each shard is an np.memmap"

_Reference = TokenDataset


class TokenDataset(_Reference):
    def __init__(self, data_dir, split):
        super().__init__(data_dir, split)
        self.shards = [np.fromfile(s.filename, dtype="<u2") for s in self.shards]  # the whole split in RAM
