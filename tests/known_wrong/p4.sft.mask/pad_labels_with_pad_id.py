MISCONCEPTION = "padding labelled with pad_id instead of -100"


def collate(examples, pad_id):
    T = max(len(ids) for ids, _ in examples)
    input_ids = torch.tensor([list(ids) + [pad_id] * (T - len(ids)) for ids, _ in examples])
    labels = torch.tensor([list(labels) + [pad_id] * (T - len(labels)) for _, labels in examples])  # pads as targets
    mask = torch.tensor([[True] * len(ids) + [False] * (T - len(ids)) for ids, _ in examples])
    return input_ids, labels, mask
