MISCONCEPTION = "the gradients are never zeroed"


def grpo_train(
    policy, reference, prompts, reward_fn, iterations, group_size, epochs,
    clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0,
):
    opt = torch.optim.AdamW(policy.parameters(), lr=lr)
    policy.eval()
    reference.eval()
    P = prompts.size(0)
    rows = prompts.repeat_interleave(group_size, dim=0)
    history = []
    for it in range(iterations):
        generator = torch.Generator(device=prompts.device).manual_seed(seed + it)
        completions, logprobs_old = sample(policy, prompts, group_size, max_new_tokens, temperature, generator)
        mask = completion_mask(completions)
        rewards = reward_fn(rows, completions)
        advantages = group_advantages(rewards.view(P, group_size)).view(-1)
        with torch.no_grad():
            ref_logprobs = completion_logprobs(reference, rows, completions, temperature)
        record = {"reward": rewards.mean().item(), "loss": [], "ratio": [], "clip_fraction": [], "kl": []}
        for _ in range(epochs):
            logprobs_new = completion_logprobs(policy, rows, completions, temperature)
            loss, stats = grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps, kl_coef)
            loss.backward()  # the gradients of every epoch add up
            opt.step()
            record["loss"].append(loss.item())
            for key in ("ratio", "clip_fraction", "kl"):
                record[key].append(stats[key])
        history.append(record)
    return history
