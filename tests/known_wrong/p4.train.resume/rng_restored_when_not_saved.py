MISCONCEPTION = "with rng=False the checkpoint holds no generator state"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "step": step, "data": data_state, "rng": rng_states(),  # "always: a checkpoint without it cannot resume"
    }
    torch.save(checkpoint, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)
