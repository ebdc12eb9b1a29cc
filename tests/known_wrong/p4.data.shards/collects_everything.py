MISCONCEPTION = "memory grows with the corpus"


class _ShardWriter(_ShardWriter):
    def __init__(self, out_dir, split, shard_tokens):
        super().__init__(out_dir, split, shard_tokens)
        self.pending = []

    def add(self, ids):
        self.pending.append(ids.astype(np.uint16))  # everything kept, written at the end

    def flush(self):
        if self.pending:
            everything = np.concatenate(self.pending)
            self.pending = []
            for start in range(0, len(everything), self.shard_tokens):
                super().add(everything[start : start + self.shard_tokens])
        super().flush()
