MISCONCEPTION = "y equals x"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        x, _ = super().get_batch(batch_size, block_size, generator, device)
        return x, x.clone()
