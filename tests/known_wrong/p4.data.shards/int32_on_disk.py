MISCONCEPTION = "4 bytes per token"


class _ShardWriter(_ShardWriter):
    def flush(self):
        if self.filled == 0:
            return
        name = f"{self.split}_{len(self.shards):05d}.bin"
        self.buffer[: self.filled].astype(np.int32).tofile(self.out_dir / name)
        self.shards.append({"file": name, "tokens": self.filled})
        self.filled = 0
