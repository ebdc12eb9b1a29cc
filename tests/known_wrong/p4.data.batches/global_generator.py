MISCONCEPTION = "draw every random number from `generator`"


class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        return super().get_batch(batch_size, block_size, None, device)  # torch.randint's global generator
