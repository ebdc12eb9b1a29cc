MISCONCEPTION = "not every nn.Linear was replaced"


def quantize_model(model, group_size=None, skip=("lm_head",)):
    quantized = copy.deepcopy(model)
    for name, child in list(quantized.named_children()):  # the model's direct children only
        if isinstance(child, nn.Linear) and name not in skip:
            setattr(quantized, name, Int8Linear.from_linear(child, group_size))
    return quantized.requires_grad_(False)
