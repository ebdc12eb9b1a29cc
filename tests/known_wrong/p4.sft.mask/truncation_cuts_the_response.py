MISCONCEPTION = "truncation cut the response"


def build_example(prompt, response, max_len):
    head = [TOKENIZER.user_id, *TOKENIZER.encode(prompt), TOKENIZER.end_id, TOKENIZER.assistant_id]
    sequence = (head + TOKENIZER.encode(response) + [TOKENIZER.end_id])[: max_len + 1]  # keep the first max_len + 1
    labels = [IGNORE] * (len(head) - 1) + sequence[len(head) :]
    return sequence[:-1], labels[: len(sequence) - 1]
