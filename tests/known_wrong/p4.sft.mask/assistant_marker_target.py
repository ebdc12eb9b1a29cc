MISCONCEPTION = "the assistant marker is left as a target"


def build_example(prompt, response, max_len):
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    room = max_len - len(response_ids) - 2
    if room < 0:
        raise ValueError("the response does not fit")
    prompt_ids = TOKENIZER.encode(prompt)
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - room) :]
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id]  # the prompt, masked ...
    tail = [TOKENIZER.assistant_id, *response_ids]  # ... and the assistant's turn, marker included, as targets
    sequence = head + tail
    return sequence[:-1], [IGNORE] * (len(head) - 1) + tail
