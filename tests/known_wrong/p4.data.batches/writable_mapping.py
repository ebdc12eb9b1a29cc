MISCONCEPTION = "opened read-only"

_Reference = TokenDataset


class TokenDataset(_Reference):
    def __init__(self, data_dir, split):
        super().__init__(data_dir, split)
        self.shards = [np.memmap(s.filename, dtype="<u2", mode="r+", shape=s.shape) for s in self.shards]
