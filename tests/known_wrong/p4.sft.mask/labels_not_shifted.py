MISCONCEPTION = "labels are not shifted"


def build_example(prompt, response, max_len):
    response_ids = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    room = max_len - len(response_ids) - 3
    if room < 0:
        raise ValueError("the response does not fit")
    prompt_ids = TOKENIZER.encode(prompt)
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - room) :]
    head = [TOKENIZER.user_id, *prompt_ids, TOKENIZER.end_id, TOKENIZER.assistant_id]
    # labels line up with the ids they label: the model "predicts" the token it is reading
    return head + response_ids, [IGNORE] * len(head) + response_ids
