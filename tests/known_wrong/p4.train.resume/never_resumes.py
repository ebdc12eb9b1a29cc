MISCONCEPTION = "train did not resume from ckpt_path"


def train(model, optimizer, scheduler, sampler, steps, ckpt_path, every, accum_steps=1, max_norm=None):
    model.train()
    losses = []
    for step in range(1, steps + 1):
        stats = train_step(model, optimizer, sampler.get_batch, accum_steps, max_norm)
        scheduler.step()
        losses.append(stats["loss"])
        if step % every == 0 or step == steps:
            save_checkpoint(ckpt_path, model, optimizer, scheduler, step, sampler.state_dict())
    return losses
