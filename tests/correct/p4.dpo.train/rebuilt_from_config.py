"""The reference built anew from the model's config and loaded with its weights (in the model's dtype);
the loss written inline rather than through dpo_loss; the optimizer imported by name."""

from torch.optim import AdamW

from mentor.lab import GPT


def make_reference(model):
    reference = GPT(model.config).to(next(model.parameters()).dtype)
    reference.load_state_dict(model.state_dict())  # copies the values into the new model's own tensors
    return reference.requires_grad_(False).eval()


def dpo_train(policy, reference, pairs, steps, beta, lr, seed):
    torch.manual_seed(seed)
    reference.eval()
    opt = AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    history = dict(loss=[], accuracy=[], margin=[])
    step = 0
    while step < steps:
        with torch.no_grad():
            ref_c = sequence_logprobs(reference, pairs.chosen_ids, pairs.chosen_labels)
            ref_r = sequence_logprobs(reference, pairs.rejected_ids, pairs.rejected_labels)
        pi_c = sequence_logprobs(policy, pairs.chosen_ids, pairs.chosen_labels)
        pi_r = sequence_logprobs(policy, pairs.rejected_ids, pairs.rejected_labels)
        chosen_reward = beta * (pi_c - ref_c)
        rejected_reward = beta * (pi_r - ref_r)
        loss = -F.logsigmoid(chosen_reward - rejected_reward).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            history["loss"].append(loss.item())
            history["accuracy"].append(torch.mean((chosen_reward > rejected_reward).to(torch.float64)).item())
            history["margin"].append(torch.mean(chosen_reward - rejected_reward).item())
        step += 1
    return history
