MISCONCEPTION = "x and y are moved to `device`"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        return super().get_batch(batch_size, block_size, generator)  # always on the CPU
