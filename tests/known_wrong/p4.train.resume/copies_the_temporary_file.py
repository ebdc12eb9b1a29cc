MISCONCEPTION = "save_checkpoint leaves other files behind"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "step": step, "data": data_state,
    }
    if rng:
        checkpoint["rng"] = rng_states()
    torch.save(checkpoint, f"{path}.tmp")
    import shutil

    shutil.copyfile(f"{path}.tmp", path)  # "keep the temporary file as a backup"
