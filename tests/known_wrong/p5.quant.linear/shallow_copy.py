MISCONCEPTION = "copy.copy shares the submodules"


def quantize_model(model, group_size=None, skip=("lm_head",)):
    quantized = copy.copy(model)
    for parent_name, parent in list(quantized.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(child, nn.Linear) and name not in skip:
                setattr(parent, child_name, Int8Linear.from_linear(child, group_size))
    return quantized
