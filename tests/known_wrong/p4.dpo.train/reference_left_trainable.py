MISCONCEPTION = "the reference's parameters still require grad"


def make_reference(model):
    return copy.deepcopy(model).eval()
