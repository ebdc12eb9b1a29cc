MISCONCEPTION = "a graph grows across steps"


class AdamW(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):  # no @torch.no_grad(): the parameters are written through .data instead
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m"] = p.clone().zero_()  # a copy of p: it remembers where it came from
                    state["v"] = p.clone().zero_()
                state["step"] += 1
                t, g = state["step"], p.grad
                state["m"] = beta1 * state["m"] + (1 - beta1) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
                m_hat = state["m"] / (1 - beta1**t)
                v_hat = state["v"] / (1 - beta2**t)
                p.data.mul_(1 - lr * wd)
                p.data.sub_(lr * m_hat.detach() / (v_hat.detach().sqrt() + eps))
        return loss
