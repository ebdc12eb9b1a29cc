MISCONCEPTION = "changed the original model"


def quantize_model(model, group_size=None, skip=("lm_head",)):
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(child, nn.Linear) and name not in skip:
                setattr(parent, child_name, Int8Linear.from_linear(child, group_size))
    return model.requires_grad_(False)
