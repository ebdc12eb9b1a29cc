MISCONCEPTION = "padding must use the pad_id argument"


def collate(examples, pad_id):
    T = max(len(ids) for ids, _ in examples)
    B = len(examples)
    input_ids = torch.zeros(B, T, dtype=torch.long)  # 0 is <|pad|> anyway
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.bool)
    for b, (ids, labs) in enumerate(examples):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        labels[b, : len(ids)] = torch.tensor(labs)
        mask[b, : len(ids)] = True
    return input_ids, labels, mask
