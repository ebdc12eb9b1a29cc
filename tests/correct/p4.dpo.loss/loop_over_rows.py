"""One sequence at a time: the scored positions found with nonzero, their log-probs gathered by
indexing, stacked into (B,)."""


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    sums = []
    for b in range(input_ids.shape[0]):
        positions = (labels[b] != IGNORE).nonzero().flatten()  # the response and <eos>
        positions = positions[positions > 0]
        token_logp = F.log_softmax(logits[b, positions - 1], dim=-1)[torch.arange(len(positions)), labels[b, positions]]
        sums.append(token_logp.sum())
    return torch.stack(sums)


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    logits = beta * ((pi_chosen - ref_chosen.detach()) - (pi_rejected - ref_rejected.detach()))
    loss = -F.logsigmoid(logits).sum() / logits.numel()
    return loss, beta * (pi_chosen.detach() - ref_chosen.detach()), beta * (pi_rejected.detach() - ref_rejected.detach())
