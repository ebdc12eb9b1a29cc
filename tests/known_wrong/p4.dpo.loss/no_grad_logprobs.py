MISCONCEPTION = "the log-probs carry no graph"


@torch.no_grad()
def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], labels[:, 1:]
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    scored = targets != IGNORE
    token_logp = logp.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)
