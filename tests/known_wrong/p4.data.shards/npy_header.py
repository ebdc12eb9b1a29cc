MISCONCEPTION = "no header (np.save adds one"


class _ShardWriter(_ShardWriter):
    def flush(self):
        if self.filled == 0:
            return
        name = f"{self.split}_{len(self.shards):05d}.bin"
        with open(self.out_dir / name, "wb") as f:
            np.save(f, self.buffer[: self.filled])
        self.shards.append({"file": name, "tokens": self.filled})
        self.filled = 0
