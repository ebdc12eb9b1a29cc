MISCONCEPTION = "matched against the wrong name"


def quantize_model(model, group_size=None, skip=("lm_head",)):
    quantized = copy.deepcopy(model)
    for parent in list(quantized.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child_name not in skip:  # "fc", not "blocks.1.mlp.fc"
                setattr(parent, child_name, Int8Linear.from_linear(child, group_size))
    return quantized.requires_grad_(False)
