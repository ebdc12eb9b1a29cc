MISCONCEPTION = "truncation kept the start of the prompt"


def build_example(prompt, response, max_len):
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    room = max_len - len(response_ids) - 2
    if room < 0:
        raise ValueError("the response does not fit")
    prompt_ids = TOKENIZER.encode(prompt)[:room]  # the prompt's first characters
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    return (head + response_ids)[:-1], [IGNORE] * (len(head) - 1) + response_ids
