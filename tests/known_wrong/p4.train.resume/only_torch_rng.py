MISCONCEPTION = "Python's random was not restored"


def rng_states():
    return {"torch": torch.get_rng_state()}  # "torch draws every random number of the model"


def set_rng_states(states):
    torch.set_rng_state(states["torch"])
