MISCONCEPTION = "sequence_logprobs changed the labels passed in"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    scored = labels[:, 1:] != IGNORE
    labels[labels == IGNORE] = 0  # a valid index for gather, written into the caller's tensor
    logits, targets = logits[:, :-1], labels[:, 1:]
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)
