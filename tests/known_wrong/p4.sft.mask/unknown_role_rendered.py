MISCONCEPTION = "a message with an unknown role was rendered anyway"


def render(messages):
    ids = []
    for message in messages:
        marker = TOKENIZER.assistant_id if message["role"] == "assistant" else TOKENIZER.user_id  # the rest as user
        ids += [marker, *TOKENIZER.encode(message["content"]), TOKENIZER.end_id]
    return ids
