MISCONCEPTION = "embeddings are not decayed"


def param_groups_for(model, weight_decay):
    decay = {id(m.weight): m.weight for m in model.modules() if isinstance(m, nn.Linear)}
    no_decay = [p for p in model.parameters() if id(p) not in decay]
    return [{"params": list(decay.values()), "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
