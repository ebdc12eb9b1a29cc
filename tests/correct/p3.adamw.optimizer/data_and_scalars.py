"""Written through p.data with Python scalars folded into one step size, as many older optimizers are;
a plain loop over the parameters for the groups."""


class AdamW(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()  # outside no_grad: autograd is on as the caller left it
        with torch.no_grad():
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if "t" not in st:
                        st["t"], st["m"], st["v"] = 0, torch.zeros_like(p.data), torch.zeros_like(p.data)
                    st["t"] += 1
                    t = st["t"]
                    p.data.mul_(1.0 - group["lr"] * group["weight_decay"])
                    st["m"].mul_(b1).add_(p.grad, alpha=1.0 - b1)
                    st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1.0 - b2)
                    step_size = group["lr"] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
                    # p -= lr·m̂/(sqrt(v̂)+eps) with the corrections moved onto eps: eps·sqrt(1 - b2^t)
                    denom = st["v"].sqrt().add_(group["eps"] * math.sqrt(1.0 - b2**t))
                    p.data.addcdiv_(st["m"], denom, value=-step_size)
        return loss


def param_groups_for(model, weight_decay):
    params = list(model.parameters())
    return [
        {"params": [p for p in params if len(p.shape) >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if len(p.shape) < 2], "weight_decay": 0.0},
    ]
