MISCONCEPTION = "forgets RNG"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "step": step, "data": data_state,
    }  # no generator states: "the data position is saved, that is enough"
    torch.save(checkpoint, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)
