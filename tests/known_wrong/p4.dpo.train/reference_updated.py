MISCONCEPTION = "the reference changed during training"


def dpo_train(policy, reference, pairs, steps, beta, lr, seed):
    torch.manual_seed(seed)
    reference.eval()
    # both models handed to the optimizer, the loss written inline without detaching the reference
    opt = torch.optim.AdamW(list(policy.parameters()) + list(reference.parameters()), lr=lr, weight_decay=0.0)
    history = {"loss": [], "accuracy": [], "margin": []}
    for _ in range(steps):
        ref_c = sequence_logprobs(reference, pairs.chosen_ids, pairs.chosen_labels)
        ref_r = sequence_logprobs(reference, pairs.rejected_ids, pairs.rejected_labels)
        pi_c = sequence_logprobs(policy, pairs.chosen_ids, pairs.chosen_labels)
        pi_r = sequence_logprobs(policy, pairs.rejected_ids, pairs.rejected_labels)
        loss = -F.logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        chosen_reward, rejected_reward = beta * (pi_c - ref_c).detach(), beta * (pi_r - ref_r).detach()
        history["loss"].append(loss.item())
        history["accuracy"].append((chosen_reward > rejected_reward).float().mean().item())
        history["margin"].append((chosen_reward - rejected_reward).mean().item())
    return history
