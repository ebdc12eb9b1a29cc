MISCONCEPTION = "a split without tokens has no shard file"


class _ShardWriter(_ShardWriter):
    def flush(self):
        if self.filled == 0:  # still writes the (empty) file
            (self.out_dir / f"{self.split}_{len(self.shards):05d}.bin").write_bytes(b"")
            return
        super().flush()
