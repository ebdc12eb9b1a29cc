MISCONCEPTION = "the split does not follow the hash of the task"


def split_of(document, val_fraction):
    return "val" if (hash(document) % 1000) / 1000 < val_fraction else "train"  # salted per process
