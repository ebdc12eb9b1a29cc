# The ids flattened to one axis, the rows picked with index_select, the result viewed back to (B, T, d);
# the table drawn with torch.randn and scaled before it becomes a Parameter.


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size, d_model):
        super().__init__()
        self.d_model = d_model
        self.weight = nn.Parameter(0.02 * torch.randn(vocab_size, d_model))

    def forward(self, ids):
        rows = torch.index_select(self.weight, 0, ids.reshape(-1))  # (B*T, d)
        return rows.view(*ids.shape, self.d_model)
