MISCONCEPTION = "far too slow to stream a large corpus"


class _ShardWriter(_ShardWriter):
    def add(self, ids):
        for token in ids.tolist():  # one Python step per token
            self.buffer[self.filled] = token
            self.filled += 1
            if self.filled == self.shard_tokens:
                self.flush()
