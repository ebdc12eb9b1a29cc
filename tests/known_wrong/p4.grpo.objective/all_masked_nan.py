MISCONCEPTION = "with no valid token the loss must be 0"


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    ratio = torch.exp(logprobs_new - logprobs_old.detach())
    adv = advantages[:, None]
    surrogate = -torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    log_r = ref_logprobs.detach() - logprobs_new
    kl = torch.exp(log_r) - log_r - 1
    loss = (surrogate + kl_coef * kl)[mask].mean()  # the mean of no element is NaN
    with torch.no_grad():
        active = ((ratio > 1 + clip_eps) & (adv > 0)) | ((ratio < 1 - clip_eps) & (adv < 0))
        stats = {"clip_fraction": float(active[mask].double().mean()), "ratio": float(ratio[mask].mean()),
                 "kl": float(kl[mask].mean())}
    return loss, stats
