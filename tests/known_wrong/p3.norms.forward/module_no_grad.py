MISCONCEPTION = "carries no gradient"


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        with torch.no_grad():  # "normalisation has nothing to learn": but the weight does
            return rms_norm(x, self.weight, self.eps)
