"""log_softmax written as x - logsumexp(x), the token picked by a one-hot product instead of gather, the
mask applied with torch.where; the reference detached up front."""


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    wide = torch.promote_types(logits.dtype, torch.float32)
    x = logits[:, :-1].to(wide)  # (B, T-1, V)
    logp = x - torch.logsumexp(x, dim=-1, keepdim=True)
    targets = labels[:, 1:]
    scored = targets.ne(IGNORE)
    one_hot = F.one_hot(torch.where(scored, targets, torch.zeros_like(targets)), x.shape[-1]).to(wide)
    token_logp = (logp * one_hot).sum(dim=-1)  # (B, T-1)
    return torch.where(scored, token_logp, torch.zeros_like(token_logp)).sum(dim=-1)


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    ref_chosen, ref_rejected = ref_chosen.detach(), ref_rejected.detach()
    chosen_reward = beta * (pi_chosen - ref_chosen)
    rejected_reward = beta * (pi_rejected - ref_rejected)
    loss = torch.mean(-F.logsigmoid(chosen_reward - rejected_reward))
    return loss, chosen_reward.detach(), rejected_reward.detach()
