MISCONCEPTION = "the log-probs ignore the temperature"


@torch.no_grad()
def sample(model, prompt_ids, group_size, max_new_tokens, temperature=1.0, generator=None):
    was_training = model.training
    model.eval()
    try:
        ids = prompt_ids.repeat_interleave(group_size, dim=0)
        N = ids.size(0)
        completions = torch.full((N, max_new_tokens), PAD, dtype=torch.long, device=ids.device)
        logprobs = torch.zeros(N, max_new_tokens, device=ids.device)
        done = torch.zeros(N, dtype=torch.bool, device=ids.device)
        for t in range(max_new_tokens):
            logits, _ = model(ids)
            logp = F.log_softmax(logits[:, -1] / temperature, dim=-1)
            token = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
            logp = F.log_softmax(logits[:, -1], dim=-1)  # the model's own distribution
            token = torch.where(done, PAD, token)
            completions[:, t] = token
            logprobs[:, t] = torch.where(done, 0.0, logp.gather(1, token[:, None]).squeeze(1))
            done |= token == EOS
            ids = torch.cat([ids, token[:, None]], dim=1)
        return completions, logprobs
    finally:
        model.train(was_training)
