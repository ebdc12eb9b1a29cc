MISCONCEPTION = "special tokens produced from plain text"


def render(messages):
    text = ""
    for message in messages:
        if message["role"] not in ("user", "assistant"):
            raise ValueError(f"unknown role {message['role']!r}")
        text += f"<|{message['role']}|>{message['content']}<|end|>"
    return TOKENIZER.encode(text, allow_special=True)  # the markers' spellings become the markers, in the content too
