MISCONCEPTION = "a plain tensor attribute is not a parameter"


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.ones(d)  # not an nn.Parameter: invisible to the optimizer and state_dict

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)
