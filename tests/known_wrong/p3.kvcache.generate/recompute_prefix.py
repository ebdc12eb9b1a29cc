MISCONCEPTION = "generate recomputes the prefix"


@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    ids = prompt_ids
    for _ in range(max_new_tokens):
        logits, _ = model(ids)  # the cache never used: the whole sequence every time
        ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids
