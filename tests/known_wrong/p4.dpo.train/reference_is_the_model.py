MISCONCEPTION = "make_reference returned the model itself"


def make_reference(model):
    return model.eval()  # "the reference is the starting model"
