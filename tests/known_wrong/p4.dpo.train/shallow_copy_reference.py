MISCONCEPTION = "make_reference shares tensors with the model"


def make_reference(model):
    reference = copy.copy(model)  # a new module object, the same Parameters inside
    return reference.eval()
