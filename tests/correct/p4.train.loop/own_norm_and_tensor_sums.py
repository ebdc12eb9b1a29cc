"""Zeroed (not None) gradients, losses summed as a tensor, the norm and the clip written out by hand,
autocast always entered (disabled without a dtype), evaluate under inference_mode, the log through print."""

from pathlib import Path


def train_step(model, optimizer, get_batch, accum_steps, max_norm=None, scaler=None, autocast_dtype=None):
    model.zero_grad(set_to_none=False)
    loss_sum = 0
    for _ in range(accum_steps):
        x, y = get_batch("train")
        with torch.autocast(device_type=x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits, loss = model(x, y)
        loss_sum = loss_sum + loss.detach()
        if scaler is None:
            (loss / accum_steps).backward()
        else:
            scaler.scale(loss / accum_steps).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if max_norm is not None and norm > max_norm:
        for g in grads:
            g.mul_(max_norm / (norm + 1e-6))
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    return dict(loss=(loss_sum / accum_steps).item(), grad_norm=norm.item())


def evaluate(model, get_batch, iters):
    mode = model.training
    model.eval()
    total = 0.0
    with torch.inference_mode():
        for _ in range(iters):
            x, y = get_batch("val")
            total += model(x, y)[1].item()
    model.train(mode)
    return total / iters


def log_line(path, **fields):
    with Path(path).open("a") as f:
        print(json.dumps(fields), file=f)
