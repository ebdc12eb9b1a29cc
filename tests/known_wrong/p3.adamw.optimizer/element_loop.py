MISCONCEPTION = "the update is much slower than the reference"


class AdamW(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                flat_p, flat_g = p.view(-1), p.grad.reshape(-1)
                flat_m, flat_v = state["m"].view(-1), state["v"].view(-1)
                for i in range(flat_p.numel()):  # one number at a time, like the formula on paper
                    g = flat_g[i]
                    flat_p[i] *= 1 - lr * wd
                    flat_m[i] = beta1 * flat_m[i] + (1 - beta1) * g
                    flat_v[i] = beta2 * flat_v[i] + (1 - beta2) * g * g
                    m_hat = flat_m[i] / (1 - beta1**t)
                    v_hat = flat_v[i] / (1 - beta2**t)
                    flat_p[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
        return loss
