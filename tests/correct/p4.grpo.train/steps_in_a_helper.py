"""The log-probs through logsumexp; one batch's updates in a helper of their own; the model's previous
mode put back after the run."""


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    L = completions.size(1)
    logits, _ = model(torch.cat([prompt_ids, completions], dim=-1))
    scaled = logits[:, -L - 1 : -1] / temperature  # the L positions that predict the completion
    picked = scaled.gather(2, completions.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(scaled, dim=-1)


def _epochs_on_batch(opt, policy, batch, epochs, clip_eps, kl_coef, temperature, record):
    rows, completions, old, ref, adv, mask = batch
    for _ in range(epochs):
        new = completion_logprobs(policy, rows, completions, temperature)
        loss, stats = grpo_loss(new, old, ref, adv, mask, clip_eps, kl_coef)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        record["loss"].append(loss.item())
        record["ratio"].append(stats["ratio"])
        record["clip_fraction"].append(stats["clip_fraction"])
        record["kl"].append(stats["kl"])


def grpo_train(
    policy, reference, prompts, reward_fn, iterations, group_size, epochs,
    clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0,
):
    was_training = policy.training
    policy.eval()
    reference.eval()
    opt = torch.optim.AdamW(policy.parameters(), lr=lr)
    rows = prompts.repeat_interleave(group_size, dim=0)
    history = []
    try:
        for it in range(iterations):
            g = torch.Generator(device=prompts.device)
            g.manual_seed(seed + it)
            completions, old = sample(policy, prompts, group_size, max_new_tokens, temperature, g)
            rewards = reward_fn(rows, completions)
            adv = group_advantages(rewards.view(-1, group_size)).reshape(-1)
            with torch.no_grad():
                ref = completion_logprobs(reference, rows, completions, temperature)
            record = {"reward": rewards.float().mean().item(), "loss": [], "ratio": [], "clip_fraction": [], "kl": []}
            batch = (rows, completions, old, ref, adv, completion_mask(completions))
            _epochs_on_batch(opt, policy, batch, epochs, clip_eps, kl_coef, temperature, record)
            history.append(record)
    finally:
        policy.train(was_training)
    return history
