MISCONCEPTION = "the optimizer holds the reference's parameters"


def dpo_train(policy, reference, pairs, steps, beta, lr, seed):
    torch.manual_seed(seed)
    reference.eval()
    with torch.no_grad():
        ref_chosen = sequence_logprobs(reference, pairs.chosen_ids, pairs.chosen_labels)
        ref_rejected = sequence_logprobs(reference, pairs.rejected_ids, pairs.rejected_labels)
    params = list(policy.parameters()) + list(reference.parameters())  # "every model of the run"
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    history = {"loss": [], "accuracy": [], "margin": []}
    for _ in range(steps):
        pi_chosen = sequence_logprobs(policy, pairs.chosen_ids, pairs.chosen_labels)
        pi_rejected = sequence_logprobs(policy, pairs.rejected_ids, pairs.rejected_labels)
        loss, chosen_reward, rejected_reward = dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        history["accuracy"].append((chosen_reward > rejected_reward).float().mean().item())
        history["margin"].append((chosen_reward - rejected_reward).mean().item())
    return history
