"""Labels built unshifted over the whole sequence, then shifted; torch's pad_sequence; a masked mean written out."""

from torch.nn.utils.rnn import pad_sequence


def render(messages):
    markers = {"user": TOKENIZER.user_id, "assistant": TOKENIZER.assistant_id}
    for m in messages:
        if m["role"] not in markers:
            raise ValueError(f"no marker for the role {m['role']!r}")
    return [i for m in messages for i in (markers[m["role"]], *TOKENIZER.encode(m["content"]), TOKENIZER.end_id)]


def build_example(prompt, response, max_len):
    tail = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    prompt_ids = TOKENIZER.encode(prompt)
    excess = len(prompt_ids) + len(tail) + 2 - max_len
    if excess > len(prompt_ids):
        raise ValueError(f"a response of {len(response)} characters does not fit in {max_len} positions")
    prompt_ids = prompt_ids[max(excess, 0) :]
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    sequence = head + tail
    unshifted = [IGNORE] * len(head) + tail  # the label each id would have if it predicted itself
    return sequence[:-1], unshifted[1:]


def collate(examples, pad_id):
    ids = [torch.tensor(list(x), dtype=torch.long) for x, _ in examples]
    labels = [torch.tensor(list(y), dtype=torch.long) for _, y in examples]
    lengths = torch.tensor([len(x) for x in ids])
    input_ids = pad_sequence(ids, batch_first=True, padding_value=pad_id)
    padded_labels = pad_sequence(labels, batch_first=True, padding_value=IGNORE)
    mask = torch.arange(input_ids.size(1))[None, :] < lengths[:, None]
    return input_ids, padded_labels, mask


def sft_loss(logits, labels):
    supervised = labels != IGNORE  # (B, T)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T); ignored positions masked below
    return -(picked * supervised).sum() / supervised.sum()
