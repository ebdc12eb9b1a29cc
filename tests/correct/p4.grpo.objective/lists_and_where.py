"""Tokens gathered in a list and stacked, no early stop, probabilities from softmax and their log taken
afterwards; the std from the biased variance; the surrogate as a max of negated terms, the clip with
torch.where, the KL with expm1."""


def sample(model, prompt_ids, group_size, max_new_tokens, temperature=1.0, generator=None):
    mode = model.training
    model.train(False)
    try:
        with torch.no_grad():
            seqs = torch.repeat_interleave(prompt_ids, group_size, dim=0)
            finished = torch.zeros(seqs.shape[0], dtype=torch.bool, device=seqs.device)
            tokens, logps = [], []
            for _ in range(max_new_tokens):
                probs = torch.softmax(model(seqs)[0][:, -1, :] / temperature, dim=-1)
                drawn = torch.multinomial(probs, num_samples=1, generator=generator)[:, 0]
                drawn[finished] = PAD
                lp = torch.log(probs.gather(-1, drawn.unsqueeze(-1))).squeeze(-1)
                logps.append(lp.masked_fill(finished, 0.0))
                tokens.append(drawn)
                finished = finished | (drawn == EOS)
                seqs = torch.cat((seqs, drawn.unsqueeze(1)), dim=1)
            n = seqs.shape[0]
            if not tokens:
                return torch.empty(n, 0, dtype=torch.long, device=seqs.device), torch.empty(n, 0, device=seqs.device)
            return torch.stack(tokens, dim=1), torch.stack(logps, dim=1)
    finally:
        model.train(mode)


def group_advantages(rewards, eps=1e-4):
    centred = rewards - rewards.mean(-1, keepdim=True)
    return centred / (rewards.var(-1, unbiased=False, keepdim=True).sqrt() + eps)


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    a = advantages.unsqueeze(-1).expand_as(logprobs_new)
    ratio = (logprobs_new - logprobs_old.detach()).exp()
    low, high = 1 - clip_eps, 1 + clip_eps
    clipped_ratio = torch.where(ratio < low, torch.full_like(ratio, low), torch.where(ratio > high, torch.full_like(ratio, high), ratio))
    per_token = torch.max(-ratio * a, -clipped_ratio * a)
    d = ref_logprobs.detach() - logprobs_new
    kl = torch.expm1(d) - d
    total = torch.where(mask, per_token + kl_coef * kl, torch.zeros_like(per_token)).sum()
    count = max(int(mask.sum()), 1)
    loss = total / count
    with torch.no_grad():
        hit = torch.where(a > 0, ratio > high, torch.where(a < 0, ratio < low, torch.zeros_like(mask)))
        stats = dict(
            clip_fraction=(hit & mask).sum().item() / count,
            ratio=torch.where(mask, ratio, torch.zeros_like(ratio)).sum().item() / count,
            kl=torch.where(mask, kl, torch.zeros_like(kl)).sum().item() / count,
        )
    return loss, stats
