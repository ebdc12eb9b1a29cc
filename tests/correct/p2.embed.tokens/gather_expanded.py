# torch.gather along the row axis with the ids broadcast (expand, no copy) across the model dimension;
# the table from torch.normal with an explicit mean and std.


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size, d_model):
        super().__init__()
        table = torch.normal(mean=0.0, std=0.02, size=(vocab_size, d_model))
        self.weight = nn.Parameter(table)

    def forward(self, ids):
        B, T = ids.shape
        d = self.weight.shape[1]
        index = ids.reshape(B * T, 1).expand(B * T, d)  # index[n, j] = ids of position n, for every column j
        return self.weight.gather(0, index).reshape(B, T, d)
