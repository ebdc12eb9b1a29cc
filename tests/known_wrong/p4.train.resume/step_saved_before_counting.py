MISCONCEPTION = "the checkpoint's step is one behind"


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    start = 0
    if os.path.exists(ckpt_path):
        start, data_state = load_checkpoint(ckpt_path, model, optimizer, scheduler)
        sampler.load_state_dict(data_state)
    model.train()
    losses = []
    for step in range(start, steps):
        stats = train_step(model, optimizer, sampler.get_batch, accum_steps, max_norm)
        scheduler.step()
        losses.append(stats["loss"])
        if (step + 1) % every == 0 or step + 1 == steps:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, step, sampler.state_dict())  # the step's index
    return losses
