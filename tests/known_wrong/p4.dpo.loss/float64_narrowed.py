MISCONCEPTION = "a float64 model's log-probs must stay float64"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1].float(), labels[:, 1:]  # float() narrows float64 too
    logp = logits.log_softmax(dim=-1)
    scored = targets != IGNORE
    token_logp = logp.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)
