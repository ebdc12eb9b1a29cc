MISCONCEPTION = "tokens of the train split are missing"


class _ShardWriter(_ShardWriter):
    def add(self, ids):
        while len(ids):
            take = min(len(ids), self.shard_tokens - self.filled)
            self.buffer[self.filled : self.filled + take] = ids[:take]
            self.filled += take
            ids = ids[take:]
            if self.filled == self.shard_tokens:
                super().flush()

    def flush(self):  # called at the end for the partial shard: only full shards are written
        self.filled = 0
