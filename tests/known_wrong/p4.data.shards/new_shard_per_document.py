MISCONCEPTION = "a document runs over into the next shard"


class _ShardWriter(_ShardWriter):
    def add(self, ids):
        if self.filled + len(ids) > self.shard_tokens:  # keep documents whole: start a new shard
            self.flush()
        super().add(ids)
