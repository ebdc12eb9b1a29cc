MISCONCEPTION = "must return LayerNormFunction.apply"


def layer_norm_manual(x, weight, bias, eps=1e-5):
    return layer_norm(x, weight, bias, eps)  # right values, but autograd's gradients, not yours
