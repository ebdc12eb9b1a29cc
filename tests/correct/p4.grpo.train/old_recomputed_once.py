"""The old log-probs recomputed once per batch from one forward of the policy under no_grad (so the
first epoch's ratio is exactly 1), the log-probs through cross_entropy, the history built from lists."""


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    T = prompt_ids.shape[1]
    logits = model(torch.cat((prompt_ids, completions), 1))[0]
    logits = logits[:, T - 1 : T - 1 + completions.shape[1], :] / temperature  # (N, L, V)
    nll = F.cross_entropy(logits.transpose(1, 2), completions, reduction="none")  # (N, L)
    return -nll


def grpo_train(
    policy, reference, prompts, reward_fn, iterations, group_size, epochs,
    clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0,
):
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr)
    for m in (policy, reference):
        m.eval()
    n_prompts = len(prompts)
    rows = torch.repeat_interleave(prompts, group_size, dim=0)
    history = []
    for i in range(iterations):
        completions, _ = sample(policy, prompts, group_size, max_new_tokens, temperature,
                                torch.Generator(device=prompts.device).manual_seed(seed + i))
        with torch.no_grad():
            old = completion_logprobs(policy, rows, completions, temperature)
            ref = completion_logprobs(reference, rows, completions, temperature)
        mask = completion_mask(completions)
        rewards = reward_fn(rows, completions)
        adv = group_advantages(rewards.reshape(n_prompts, group_size)).flatten()
        losses, stats_per_epoch = [], []
        for _ in range(epochs):
            loss, stats = grpo_loss(completion_logprobs(policy, rows, completions, temperature), old, ref, adv, mask,
                                    clip_eps=clip_eps, kl_coef=kl_coef)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
            stats_per_epoch.append(stats)
        history.append({
            "reward": float(rewards.mean()),
            "loss": losses,
            **{k: [s[k] for s in stats_per_epoch] for k in ("ratio", "clip_fraction", "kl")},
        })
    return history
