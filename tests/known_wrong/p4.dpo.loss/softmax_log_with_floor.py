MISCONCEPTION = "floors them (at log eps)"


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits, targets = logits[:, :-1], labels[:, 1:]
    probs = logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=-1)
    scored = targets != IGNORE
    token_p = probs.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)
    return torch.log(token_p + 1e-12).masked_fill(~scored, 0.0).sum(dim=-1)  # "+ eps to avoid log 0"
