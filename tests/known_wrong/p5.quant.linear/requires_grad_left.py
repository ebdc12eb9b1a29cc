MISCONCEPTION = "still has parameters that require grad"

_reference_quantize_model = quantize_model


def quantize_model(model, group_size=None, skip=("lm_head",)):
    return _reference_quantize_model(model, group_size, skip).requires_grad_(True)
