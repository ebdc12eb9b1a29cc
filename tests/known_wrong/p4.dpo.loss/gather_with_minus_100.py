MISCONCEPTION = "gather was given the label -100 as an index"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], labels[:, 1:]
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # -100 is no index
    return token_logp.masked_fill(targets == IGNORE, 0.0).sum(dim=-1)
