MISCONCEPTION = "zero_grad inside the micro-batch loop"


def train_step(model, optimizer, get_batch, accum_steps, max_norm=None, scaler=None, autocast_dtype=None):
    total = 0.0
    for _ in range(accum_steps):
        optimizer.zero_grad(set_to_none=True)  # "a clean slate for every batch"
        x, y = get_batch("train")
        cast = torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext()
        with cast:
            _, loss = model(x, y)
        total += loss.item()
        loss = loss / accum_steps
        (scaler.scale(loss) if scaler is not None else loss).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    if max_norm is None:
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    else:
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return {"loss": total / accum_steps, "grad_norm": float(grad_norm)}
