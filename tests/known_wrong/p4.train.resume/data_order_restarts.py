MISCONCEPTION = "resume restarts the data order"


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    step = 0
    if os.path.exists(ckpt_path):
        step, _ = load_checkpoint(ckpt_path, model, optimizer, scheduler)  # "the sampler is random anyway"
    model.train()
    losses = []
    while step < steps:
        stats = train_step(model, optimizer, sampler.get_batch, accum_steps, max_norm)
        scheduler.step()
        step += 1
        losses.append(stats["loss"])
        if step % every == 0 or step == steps:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, step, sampler.state_dict())
    return losses
