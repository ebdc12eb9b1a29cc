"""Chosen and rejected stacked into one batch of 2B sequences, so each model runs one forward per step;
the reference's log-probs recomputed at every step under inference_mode, as a loop over changing
batches would; the history kept as three lists zipped at the end."""


def make_reference(model):
    reference = copy.deepcopy(model)
    for p in reference.parameters():
        p.requires_grad = False
    reference.train(False)
    return reference


def dpo_train(policy, reference, pairs, steps, beta, lr, seed):
    torch.manual_seed(seed)
    reference.train(False)
    B = len(pairs)
    ids = torch.cat([pairs.chosen_ids, pairs.rejected_ids])  # (2B, T): the same padded length on both sides
    labels = torch.cat([pairs.chosen_labels, pairs.rejected_labels])
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    losses, accuracies, margins = [], [], []
    for _ in range(steps):
        with torch.inference_mode():
            ref_logps = sequence_logprobs(reference, ids, labels)
        pi_logps = sequence_logprobs(policy, ids, labels)
        loss, chosen_reward, rejected_reward = dpo_loss(pi_logps[:B], pi_logps[B:], ref_logps[:B].clone(), ref_logps[B:].clone(), beta)
        policy.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        accuracies.append(float((chosen_reward > rejected_reward).double().mean()))
        margins.append(float((chosen_reward - rejected_reward).mean()))
    return {"loss": losses, "accuracy": accuracies, "margin": margins}
