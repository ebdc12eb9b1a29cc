MISCONCEPTION = "clips the advantage instead of the ratio"


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    ratio = torch.exp(logprobs_new - logprobs_old.detach())
    adv = advantages[:, None]
    surrogate = -torch.min(ratio * adv, ratio * adv.clamp(-clip_eps, clip_eps))  # the clip on A
    log_r = ref_logprobs.detach() - logprobs_new
    kl = torch.exp(log_r) - log_r - 1
    w = mask.to(surrogate.dtype)
    n = w.sum().clamp(min=1)
    loss = ((surrogate + kl_coef * kl) * w).sum() / n
    with torch.no_grad():
        active = ((ratio > 1 + clip_eps) & (adv > 0)) | ((ratio < 1 - clip_eps) & (adv < 0))
        stats = {"clip_fraction": float((active & mask).sum() / n), "ratio": float((ratio * w).sum() / n),
                 "kl": float((kl * w).sum() / n)}
    return loss, stats
