MISCONCEPTION = "the end marker is masked"

_solution_build_example = build_example  # the reference's, defined above


def build_example(prompt, response, max_len):
    input_ids, labels = _solution_build_example(prompt, response, max_len)
    return input_ids, labels[:-1] + [IGNORE]  # "<|end|> is part of the template: mask it like the others"
