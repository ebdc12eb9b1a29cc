MISCONCEPTION = "make_reference changed the model it copies"


def make_reference(model):
    model.eval().requires_grad_(False)  # frozen first, then copied: the original is frozen too
    return copy.deepcopy(model)
