MISCONCEPTION = "the prompt's tokens are summed too"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], input_ids[:, 1:]  # every real token scored, the prompt's included
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    real = targets != 0  # leave out only the <pad> tail
    token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return token_logp.masked_fill(~real, 0.0).sum(dim=-1)
