MISCONCEPTION = "collate changed the examples passed in"


def collate(examples, pad_id):
    T = max(len(ids) for ids, _ in examples)
    for ids, labels in examples:
        n = T - len(ids)
        ids += [pad_id] * n  # pads the caller's lists
        labels += [IGNORE] * n
    input_ids = torch.tensor([ids for ids, _ in examples])
    labels = torch.tensor([labels for _, labels in examples])
    return input_ids, labels, input_ids != pad_id
