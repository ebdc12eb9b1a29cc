MISCONCEPTION = "clip_fraction counts every token whose ratio is outside"


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    ratio = torch.exp(logprobs_new - logprobs_old.detach())
    adv = advantages[:, None]
    surrogate = -torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    log_r = ref_logprobs.detach() - logprobs_new
    kl = torch.exp(log_r) - log_r - 1
    w = mask.to(surrogate.dtype)
    n = w.sum().clamp(min=1)
    loss = ((surrogate + kl_coef * kl) * w).sum() / n
    with torch.no_grad():
        outside = (ratio - 1).abs() > clip_eps  # OpenAI baselines' clipfrac, whatever the advantage's sign
        stats = {"clip_fraction": float((outside & mask).sum() / n), "ratio": float((ratio * w).sum() / n),
                 "kl": float((kl * w).sum() / n)}
    return loss, stats
