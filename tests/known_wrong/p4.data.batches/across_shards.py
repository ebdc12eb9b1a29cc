MISCONCEPTION = "a window runs past the end of its shard into another one"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        tokens = np.concatenate(self.shards)  # the shards as one array: windows cross their boundaries
        if len(tokens) <= block_size:
            raise ValueError("the split is too short")
        starts = torch.randint(len(tokens) - block_size, (batch_size,), generator=generator)
        chunk = torch.from_numpy(np.stack([tokens[s : s + block_size + 1] for s in starts.tolist()]).astype(np.int64))
        return chunk[:, :-1].to(device), chunk[:, 1:].to(device)
