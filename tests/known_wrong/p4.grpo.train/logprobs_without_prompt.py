MISCONCEPTION = "the forward runs over the completion alone"


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    logits, _ = model(completions)
    logits = logits / temperature
    return F.log_softmax(logits, dim=-1).gather(-1, completions[..., None]).squeeze(-1)
