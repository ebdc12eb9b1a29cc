MISCONCEPTION = "the role markers are written as text"


def render(messages):
    ids = []
    for message in messages:
        if message["role"] not in ("user", "assistant"):
            raise ValueError(f"unknown role {message['role']!r}")
        ids += TOKENIZER.encode(f"<|{message['role']}|>{message['content']}<|end|>")
    return ids
