MISCONCEPTION = "log_softmax ran in bfloat16 and was widened afterwards"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], labels[:, 1:]
    logp = logits.log_softmax(dim=-1)
    logp = logp.to(torch.promote_types(logp.dtype, torch.float32))  # widened too late
    scored = targets != IGNORE
    token_logp = logp.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)
