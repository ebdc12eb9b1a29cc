MISCONCEPTION = "left padding"


def collate(examples, pad_id):
    T = max(len(ids) for ids, _ in examples)
    input_ids = torch.tensor([[pad_id] * (T - len(ids)) + list(ids) for ids, _ in examples])
    labels = torch.tensor([[IGNORE] * (T - len(ids)) + list(labels) for ids, labels in examples])
    mask = torch.tensor([[False] * (T - len(ids)) + [True] * len(ids) for ids, _ in examples])
    return input_ids, labels, mask
