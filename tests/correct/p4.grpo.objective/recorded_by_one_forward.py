"""The tokens drawn first (stopping once every row has ended), their log-probs then taken from one
forward over prompt and completion; advantages written out with sums; the loss through masked_select."""


@torch.no_grad()
def sample(model, prompt_ids, group_size, max_new_tokens, temperature=1.0, generator=None):
    was_training = model.training
    model.eval()
    rows = prompt_ids.repeat_interleave(group_size, 0)
    N, Tp = rows.shape
    out = torch.full((N, max_new_tokens), PAD, dtype=torch.long, device=rows.device)
    ended = torch.zeros(N, dtype=torch.bool, device=rows.device)
    seq = rows
    for t in range(max_new_tokens):
        if bool(ended.all()):
            break
        probs = F.softmax(model(seq)[0][:, -1] / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator).view(-1)
        nxt = nxt.masked_fill(ended, PAD)
        out[:, t] = nxt
        ended = ended | nxt.eq(EOS)
        seq = torch.cat([seq, nxt.view(-1, 1)], 1)
    logits = model(torch.cat([rows, out], 1))[0][:, Tp - 1 : Tp - 1 + max_new_tokens]
    logprobs = torch.log_softmax(logits / temperature, -1).gather(2, out.unsqueeze(2)).squeeze(2)
    logprobs = logprobs * completion_mask(out)
    model.train(was_training)
    return out, logprobs


def group_advantages(rewards, eps=1e-4):
    G = rewards.shape[1]
    mean = rewards.sum(1, keepdim=True) / G
    std = (((rewards - mean) ** 2).sum(1, keepdim=True) / G).sqrt()
    return (rewards - mean) / (std + eps)


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    if not bool(mask.any()):
        zero = (logprobs_new * 0).sum()  # 0, still attached to the graph
        return zero, {"clip_fraction": 0.0, "ratio": 0.0, "kl": 0.0}
    adv = advantages[:, None].expand_as(logprobs_new)
    new, old, ref, A = (torch.masked_select(x, mask) for x in (logprobs_new, logprobs_old.detach(), ref_logprobs.detach(), adv))
    ratio = torch.exp(new - old)
    surrogate = -torch.minimum(ratio * A, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * A)
    kl = torch.exp(ref - new) - (ref - new) - 1
    loss = (surrogate + kl_coef * kl).mean()
    active = ((ratio > 1 + clip_eps) & (A > 0)) | ((ratio < 1 - clip_eps) & (A < 0))
    return loss, {
        "clip_fraction": active.float().mean().item(),
        "ratio": ratio.detach().mean().item(),
        "kl": kl.detach().mean().item(),
    }
