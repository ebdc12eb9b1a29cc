MISCONCEPTION = "read one position too late"


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    ids = torch.cat([prompt_ids, completions], dim=1)
    logits, _ = model(ids)
    Tp = prompt_ids.size(1)
    logits = logits[:, -completions.size(1):] / temperature  # the completion's positions
    return F.log_softmax(logits, dim=-1).gather(-1, completions[..., None]).squeeze(-1)
