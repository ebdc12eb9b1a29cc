MISCONCEPTION = "resume restarts the schedule"


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "data": data_state}
    if rng:
        checkpoint["rng"] = rng_states()
    torch.save(checkpoint, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def load_checkpoint(path, model, optimizer, scheduler):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])  # "the lr is in the optimizer's param_groups"
    if "rng" in checkpoint:
        set_rng_states(checkpoint["rng"])
    return checkpoint["step"], checkpoint["data"]
