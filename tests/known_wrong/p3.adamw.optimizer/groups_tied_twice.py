MISCONCEPTION = "a parameter appears twice"


def param_groups_for(model, weight_decay):
    named = list(model.named_parameters(remove_duplicate=False))  # every module's own view, tied ones too
    decay = [p for _, p in named if p.dim() >= 2]
    no_decay = [p for _, p in named if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
