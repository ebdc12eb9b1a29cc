MISCONCEPTION = "save_checkpoint drew random numbers"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "step": step, "data": data_state,
    }
    if rng:
        checkpoint["rng"] = rng_states()
    tmp = f"{path}.{random.getrandbits(32):08x}.tmp"  # a unique name, so that two saves never collide
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
