"""Prefill all but the prompt's last token, then one uniform loop that feeds one token per forward;
a cache of block_size positions, torch.inference_mode, and the ids gathered in a list."""


@torch.inference_mode()
def generate(model, prompt_ids, max_new_tokens):
    if max_new_tokens == 0:
        return prompt_ids.clone()
    cfg = model.config
    B = prompt_ids.size(0)
    cache = KVCache(cfg.n_layers, B, cfg.n_heads, cfg.block_size, cfg.d_model // cfg.n_heads,
                    dtype=next(model.parameters()).dtype, device=prompt_ids.device)
    if prompt_ids.size(1) > 1:
        model(prompt_ids[:, :-1], cache=cache)
    token, new = prompt_ids[:, -1:], []
    for i in range(max_new_tokens):
        logits, _ = model(token, cache=cache)
        token = logits[:, -1:].argmax(dim=-1)  # (B, 1)
        new.append(token)
        if i + 1 == max_new_tokens:
            break
    return torch.cat([prompt_ids, *new], dim=1)
