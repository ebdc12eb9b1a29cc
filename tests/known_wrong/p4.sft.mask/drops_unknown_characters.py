MISCONCEPTION = "let TOKENIZER.encode's ValueError through"


def render(messages):
    ids = []
    for message in messages:
        role = message["role"]
        if role not in ROLE_IDS:
            raise ValueError(f"unknown role {role!r}")
        content = "".join(ch for ch in message["content"] if 32 <= ord(ch) < 127)  # drop what cannot be encoded
        ids += [ROLE_IDS[role], *TOKENIZER.encode(content), TOKENIZER.end_id]
    return ids
