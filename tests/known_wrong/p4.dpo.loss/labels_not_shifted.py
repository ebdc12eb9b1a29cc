MISCONCEPTION = "the labels are not shifted"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    scored = labels != IGNORE
    token_logp = logp.gather(-1, labels.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)
