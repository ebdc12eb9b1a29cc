MISCONCEPTION = "the loss covers the prompt too"


def build_example(prompt, response, max_len):
    head = [TOKENIZER.user_id, *TOKENIZER.encode(prompt), TOKENIZER.end_id, TOKENIZER.assistant_id]
    sequence = head + TOKENIZER.encode(response) + [TOKENIZER.end_id]
    if len(sequence) - 1 > max_len:
        room = max_len - len(sequence) + 1 + len(prompt)
        if room < 0:
            raise ValueError("the response does not fit")
        return build_example(prompt[len(prompt) - room :], response, max_len)
    return sequence[:-1], sequence[1:]  # every next token a target, the prompt's too
