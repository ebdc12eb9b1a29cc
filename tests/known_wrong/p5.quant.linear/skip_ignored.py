MISCONCEPTION = "a Linear named in skip was replaced"


def quantize_model(model, group_size=None, skip=("lm_head",)):
    quantized = copy.deepcopy(model)
    for parent in list(quantized.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, child_name, Int8Linear.from_linear(child, group_size))
    return quantized.requires_grad_(False)
