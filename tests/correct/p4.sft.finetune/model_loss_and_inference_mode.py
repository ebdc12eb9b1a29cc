"""The model's own loss (targets=labels, ignore_index -100: the same per-token mean), zero_grad first in the
step, and a decoder on a growing tensor under torch.inference_mode that restores the mode in a finally."""


def finetune(model, examples, steps, lr, batch_size, seed):
    torch.manual_seed(seed)
    draws = torch.Generator()
    draws.manual_seed(seed)
    device = next(model.parameters()).device
    data = [build_example(p, r, model.config.block_size) for p, r in examples]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        chosen = torch.randint(len(data), (batch_size,), generator=draws).tolist()
        x, y, _ = collate([data[i] for i in chosen], TOKENIZER.pad_id)
        _, loss = model(x.to(device), targets=y.to(device), ignore_index=IGNORE)
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    return history


def respond(model, prompt, max_new_tokens=16):
    mode = model.training
    device = next(model.parameters()).device
    ids = torch.tensor([render([{"role": "user", "content": prompt}]) + [TOKENIZER.assistant_id]], device=device)
    start = ids.size(1)
    model.eval()
    try:
        with torch.inference_mode():
            while ids.size(1) - start < max_new_tokens and ids.size(1) < model.config.block_size:
                nxt = model(ids)[0][:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
                if nxt.item() == TOKENIZER.end_id:
                    break
                ids = torch.cat([ids, nxt], dim=1)
    finally:
        model.train(mode)
    return TOKENIZER.decode(ids[0, start:].tolist())
