MISCONCEPTION = "every message ends with <|end|>, the user's as well"


def render(messages):
    ids = []
    for message in messages:
        role = message["role"]
        if role not in ROLE_IDS:
            raise ValueError(f"unknown role {role!r}")
        ids += [ROLE_IDS[role], *TOKENIZER.encode(message["content"])]
        if role == "assistant":  # only the model's turns need a stop
            ids.append(TOKENIZER.end_id)
    return ids
