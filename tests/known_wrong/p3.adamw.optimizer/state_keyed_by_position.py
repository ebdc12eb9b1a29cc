MISCONCEPTION = "two optimizers share state"


class AdamW(torch.optim.Optimizer):
    moments = {}  # (group, index) -> [m, v]: on the class, so every AdamW sees the same dict

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                if (gi, i) not in self.moments or self.moments[gi, i][0].shape != p.shape:
                    self.moments[gi, i] = [torch.zeros_like(p), torch.zeros_like(p)]
                m, v = self.moments[gi, i]
                state["m"], state["v"] = m, v  # also visible to state_dict()
                t, g = state["step"], p.grad
                p.mul_(1 - lr * wd)
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                p.addcdiv_(m / (1 - beta1**t), (v / (1 - beta2**t)).sqrt() + eps, value=-lr)
        return loss
