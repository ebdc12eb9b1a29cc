"""clip_grad_norm_ with an infinite max_norm when there is none (it then scales by exactly 1), losses read
with .item() per micro-batch, evaluate decorated and restoring the mode by hand, the log through os.open."""


def train_step(model, optimizer, get_batch, accum_steps, max_norm=None, scaler=None, autocast_dtype=None):
    optimizer.zero_grad()
    losses = []
    for _ in range(accum_steps):
        x, y = get_batch("train")
        context = nullcontext() if autocast_dtype is None else torch.autocast(x.device.type, autocast_dtype)
        with context:
            loss = model(x, y)[1] / accum_steps
        losses.append(loss.item() * accum_steps)
        if scaler is not None:
            loss = scaler.scale(loss)
        loss.backward()
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf") if max_norm is None else max_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return {"loss": sum(losses) / len(losses), "grad_norm": norm.item()}


@torch.no_grad()
def evaluate(model, get_batch, iters):
    training = model.training
    model.train(False)
    losses = []
    for _ in range(iters):
        _, loss = model(*get_batch("val"))
        losses.append(loss)
    if training:
        model.train()
    return torch.stack(losses).mean().item()


def log_line(path, **fields):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(fields) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
