MISCONCEPTION = "truncation cut the template markers"


def build_example(prompt, response, max_len):
    head = [TOKENIZER.user_id, *TOKENIZER.encode(prompt), TOKENIZER.end_id, TOKENIZER.assistant_id]
    tail = TOKENIZER.encode(response) + [TOKENIZER.end_id]
    if len(tail) + 2 > max_len:
        raise ValueError("the response does not fit")
    sequence = (head + tail)[-(max_len + 1) :]  # the last max_len + 1 ids, whatever they are
    n_head = len(sequence) - len(tail)
    return sequence[:-1], [IGNORE] * (n_head - 1) + tail
