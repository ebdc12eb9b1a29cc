MISCONCEPTION = "calls PyTorch's own normalisation"

import torch.nn.functional as F


def layer_norm(x, weight, bias, eps=1e-5):
    xf = _upcast(x)
    return F.layer_norm(xf, xf.shape[-1:], weight, bias, eps).to(x.dtype)
