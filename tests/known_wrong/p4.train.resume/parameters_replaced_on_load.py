MISCONCEPTION = "the optimizer still holds the old ones"


def load_checkpoint(path, model, optimizer, scheduler):
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(checkpoint["optimizer"])  # built before the model's real parameters exist
    model.load_state_dict(checkpoint["model"], assign=True)  # "no copy: the loaded tensors become the weights"
    scheduler.load_state_dict(checkpoint["scheduler"])
    if "rng" in checkpoint:
        set_rng_states(checkpoint["rng"])
    return checkpoint["step"], checkpoint["data"]
