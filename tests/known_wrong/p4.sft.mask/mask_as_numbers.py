MISCONCEPTION = "the attention mask is a bool tensor"

_solution_collate = collate  # the reference's, defined above


def collate(examples, pad_id):
    input_ids, labels, mask = _solution_collate(examples, pad_id)
    return input_ids, labels, mask.long()  # 1 on real tokens, 0 on padding
