MISCONCEPTION = "labels are shifted twice"


def build_example(prompt, response, max_len):
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    room = max_len - len(response_ids) - 2
    if room < 0:
        raise ValueError("the response does not fit")
    prompt_ids = TOKENIZER.encode(prompt)
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - room) :]
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    sequence = head + response_ids
    labels = [IGNORE] * (len(head) - 1) + response_ids  # shifted once already ...
    labels = labels[1:] + [IGNORE]  # ... and once more "for next-token prediction"
    return sequence[:-1], labels
