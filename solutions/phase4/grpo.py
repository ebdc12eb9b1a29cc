"""Phase 4 · Reinforcement learning from a reward: GRPO (reference).

A policy samples a group of completions per prompt, a rule scores each one, and each completion's
advantage is its reward measured against its own group's. The update is PPO's clipped surrogate on
the ratio of new to old token probabilities, plus a KL penalty that keeps the policy near a frozen
reference; every batch is used for several epochs, its old log-probs fixed.
"""

import torch
import torch.nn.functional as F

from mentor.lab.rewards import EOS, MAX_NEW_TOKENS, PAD, completion_mask

# -- p4.grpo.objective --------------------------------------------------------------------------


@torch.no_grad()
def sample(model, prompt_ids, group_size, max_new_tokens, temperature=1.0, generator=None):
    """group_size completions of every prompt, and the log-prob of each sampled token.

    prompt_ids (P, Tp) -> completions (P·G, max_new_tokens) long, rows p·G .. p·G + G-1 for prompt p,
    PAD after each row's first EOS; logprobs (P·G, max_new_tokens) of softmax(logits / temperature)
    at the sampled tokens, 0.0 after EOS.
    """
    was_training = model.training
    model.eval()  # dropout off: the tokens and their log-probs come from the policy itself
    try:
        ids = prompt_ids.repeat_interleave(group_size, dim=0)  # (N, Tp): G rows per prompt, in order
        N = ids.size(0)
        completions = torch.full((N, max_new_tokens), PAD, dtype=torch.long, device=ids.device)
        logprobs = None
        done = torch.zeros(N, dtype=torch.bool, device=ids.device)
        for t in range(max_new_tokens):
            logits, _ = model(ids)
            logp = F.log_softmax(logits[:, -1] / temperature, dim=-1)  # (N, V)
            if logprobs is None:
                logprobs = torch.zeros(N, max_new_tokens, dtype=logp.dtype, device=ids.device)
            token = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)  # (N,): every row draws
            token = torch.where(done, PAD, token)
            completions[:, t] = token
            logprobs[:, t] = torch.where(done, 0.0, logp.gather(1, token[:, None]).squeeze(1))
            done |= token == EOS
            if done.all():
                break  # nothing left to draw: the rest stays PAD
            ids = torch.cat([ids, token[:, None]], dim=1)
        if logprobs is None:  # max_new_tokens == 0
            logprobs = torch.zeros(N, 0, device=ids.device)
        return completions, logprobs
    finally:
        model.train(was_training)


def group_advantages(rewards, eps=1e-4):
    """(P, G) rewards -> (P, G) advantages: (r - mean of its group) / (population std of its group + eps)."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, correction=0)  # population std: a group of one has std 0
    return (rewards - mean) / (std + eps)


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    """The clipped surrogate plus kl_coef times the k3 estimate of KL(policy || reference), averaged
    over the valid tokens of the whole batch.

    logprobs_* and mask (N, L), advantages (N,). Returns (loss, stats) with stats the Python floats
    "clip_fraction", "ratio" and "kl", each over the valid tokens.
    """
    old, ref = logprobs_old.detach(), ref_logprobs.detach()  # constants: gradients reach the new policy only
    adv = advantages.detach()[:, None]  # (N, 1): one advantage for every token of a completion
    ratio = torch.exp(logprobs_new - old)  # (N, L)
    unclipped = ratio * adv
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv
    surrogate = -torch.min(unclipped, clipped)
    log_r = ref - logprobs_new
    kl = torch.exp(log_r) - log_r - 1  # k3: >= 0, unbiased for KL(policy || reference) on the policy's samples
    weight = mask.to(surrogate.dtype)
    n = weight.sum().clamp(min=1)  # every valid token counts once, whatever its completion's length
    loss = ((surrogate + kl_coef * kl) * weight).sum() / n
    with torch.no_grad():
        # the clip is active where min() takes the clipped term and it is flat: no gradient from that token
        active = ((ratio > 1 + clip_eps) & (adv > 0)) | ((ratio < 1 - clip_eps) & (adv < 0))
        stats = {
            "clip_fraction": float((active & mask).sum() / n),
            "ratio": float((ratio * weight).sum() / n),
            "kl": float((kl * weight).sum() / n),
        }
    return loss, stats


# -- p4.grpo.train ------------------------------------------------------------------------------


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    """(N, L) log-probs under `model` of each completion token given its prompt (N, Tp) and the tokens
    before it: one forward over prompt + completion, as the model is (mode and autograd as the caller set)."""
    ids = torch.cat([prompt_ids, completions], dim=1)  # (N, Tp + L)
    logits, _ = model(ids)
    Tp = prompt_ids.size(1)
    logits = logits[:, Tp - 1 : -1] / temperature  # position t predicts token t + 1: the L completion tokens
    return F.log_softmax(logits, dim=-1).gather(-1, completions[..., None]).squeeze(-1)


def grpo_train(
    policy, reference, prompts, reward_fn, iterations, group_size, epochs,
    clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0,
):  # fmt: skip
    """GRPO on `policy` for `iterations` batches, each used for `epochs` updates; `reference` stays frozen.

    Returns one dict per iteration: "reward" (the batch's mean reward) and the lists "loss", "ratio",
    "clip_fraction" and "kl" with one value per epoch.
    """
    opt = torch.optim.AdamW(policy.parameters(), lr=lr)
    policy.eval()  # dropout off for sampling and for the loss: ratios compare the policy with itself
    reference.eval()
    P = prompts.size(0)
    rows = prompts.repeat_interleave(group_size, dim=0)  # (N, Tp): the prompt of every completion
    history = []
    for it in range(iterations):
        generator = torch.Generator(device=prompts.device).manual_seed(seed + it)
        completions, logprobs_old = sample(policy, prompts, group_size, max_new_tokens, temperature, generator)
        mask = completion_mask(completions)
        rewards = reward_fn(rows, completions)  # (N,)
        advantages = group_advantages(rewards.view(P, group_size)).view(-1)
        with torch.no_grad():
            ref_logprobs = completion_logprobs(reference, rows, completions, temperature)
        record = {"reward": rewards.mean().item(), "loss": [], "ratio": [], "clip_fraction": [], "kl": []}
        for _ in range(epochs):  # the same batch, the same old log-probs: only the policy moves
            logprobs_new = completion_logprobs(policy, rows, completions, temperature)
            loss, stats = grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps, kl_coef)
            opt.zero_grad()
            loss.backward()
            opt.step()
            record["loss"].append(loss.item())
            for key in ("ratio", "clip_fraction", "kl"):
                record[key].append(stats[key])
        history.append(record)
    return history
