MISCONCEPTION = "averaged over the response's tokens instead of summed"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], labels[:, 1:]
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    scored = targets != IGNORE
    token_logp = logp.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    token_logp = token_logp.masked_fill(~scored, 0.0)
    return token_logp.sum(dim=-1) / scored.sum(dim=-1).clamp(min=1)  # a mean per token
