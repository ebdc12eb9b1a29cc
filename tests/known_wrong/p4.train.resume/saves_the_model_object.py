MISCONCEPTION = "saves the model by reference, not by state_dict"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {"model": model, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step, "data": data_state}
    if rng:
        checkpoint["rng"] = rng_states()
    torch.save(checkpoint, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def load_checkpoint(path, model, optimizer, scheduler):
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["model"].state_dict())
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    if "rng" in checkpoint:
        set_rng_states(checkpoint["rng"])
    return checkpoint["step"], checkpoint["data"]
