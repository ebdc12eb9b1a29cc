"""The log-probs as the negated per-token cross-entropy (ignore_index does the masking), the loss as
softplus(-x), the rewards under no_grad."""


def sequence_logprobs(model, input_ids, labels):
    logits, _ = model(input_ids)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], reduction="none", ignore_index=IGNORE)
    return -nll.sum(dim=1)  # ignored positions contribute exactly 0


def dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    margin = (pi_chosen - pi_rejected) - (ref_chosen - ref_rejected).detach()
    loss = F.softplus(-beta * margin).mean()  # -logsigmoid(x) = softplus(-x)
    with torch.no_grad():
        chosen_reward = beta * (pi_chosen - ref_chosen)
        rejected_reward = beta * (pi_rejected - ref_rejected)
    return loss, chosen_reward, rejected_reward
