"""A temporary file made by tempfile in the checkpoint's folder, flushed to disk before os.replace; flat
keys; NumPy's key stored as a tensor; train as a for loop over the remaining step indices."""

import tempfile


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    state = {
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "steps_done": int(step),
        "data_state": data_state,
    }
    if rng:
        kind, key, pos, has_gauss, gauss = np.random.get_state()
        state["python_rng"] = random.getstate()
        state["numpy_rng"] = [kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, gauss]
        state["torch_rng"] = torch.get_rng_state()
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".partial", delete=False) as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def load_checkpoint(path, model, optimizer, scheduler):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    scheduler.load_state_dict(state["scheduler_state"])
    if "torch_rng" in state:
        random.setstate(state["python_rng"])
        kind, key, pos, has_gauss, gauss = state["numpy_rng"]
        np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["steps_done"], state["data_state"]


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    start = 0
    if os.path.isfile(ckpt_path):
        start, data_state = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        sampler.load_state_dict(data_state)
    model.train()
    losses = []
    for index in range(start, steps):  # index s is the (s + 1)-th step
        losses.append(train_step(model, optimizer, sampler.get_batch, accum_steps, max_norm)["loss"])
        scheduler.step()
        done = index + 1
        if done % every == 0 or done == steps:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, done, sampler.state_dict())
    return losses
