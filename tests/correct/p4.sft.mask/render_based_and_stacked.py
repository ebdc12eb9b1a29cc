"""build_example through render, collate with F.pad and torch.stack, the loss as a sum over a count."""


def render(messages):
    out = []
    for message in messages:
        try:
            marker = {"user": TOKENIZER.user_id, "assistant": TOKENIZER.assistant_id}[message["role"]]
        except KeyError:
            raise ValueError(f"unknown role: {message['role']}") from None
        out.append(marker)
        out.extend(TOKENIZER.encode(message["content"]))
        out.append(TOKENIZER.end_id)
    return out


def build_example(prompt, response, max_len):
    need = len(response) + 3  # the response, its <|end|>, <|user|>, <|end|>, <|assistant|>, minus the last id
    if need > max_len:
        raise ValueError("max_len leaves no room for the response")
    keep = min(len(prompt), max_len - need)
    prompt = prompt[len(prompt) - keep :]
    s = render([{"role": "user", "content": prompt}, {"role": "assistant", "content": response}])
    first_target = s.index(TOKENIZER.assistant_id)  # the position of <|assistant|> predicts the first response id
    labels = [s[t + 1] if t >= first_target else IGNORE for t in range(len(s) - 1)]
    return s[:-1], labels


def collate(examples, pad_id):
    T = max(len(x) for x, _ in examples)
    rows = [
        (
            F.pad(torch.tensor(x, dtype=torch.long), (0, T - len(x)), value=pad_id),
            F.pad(torch.tensor(y, dtype=torch.long), (0, T - len(y)), value=IGNORE),
            F.pad(torch.ones(len(x), dtype=torch.bool), (0, T - len(x)), value=False),
        )
        for x, y in examples
    ]
    return tuple(torch.stack(column) for column in zip(*rows))


def sft_loss(logits, labels):
    B, T, V = logits.shape
    total = F.cross_entropy(logits.reshape(B * T, V), labels.reshape(B * T), ignore_index=IGNORE, reduction="sum")
    return total / (labels != IGNORE).sum()
