MISCONCEPTION = "when the response and the template alone do not fit, raise ValueError"


def build_example(prompt, response, max_len):
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    room = max_len - len(response_ids) - 2
    if room < 0:  # no room at all: give the response what is left
        response_ids = response_ids[: max_len - 2]
        room = 0
    prompt_ids = TOKENIZER.encode(prompt)
    prompt_ids = prompt_ids[len(prompt_ids) - room :] if room else []
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    return (head + response_ids)[:-1], [IGNORE] * (len(head) - 1) + response_ids
