"""Phase 3 · AdamW from scratch, which parameters it decays, its learning-rate schedule and gradient
clipping (reference).

p3.adamw.optimizer  AdamW, param_groups_for
p3.adamw.schedule   lr_at, clip_grad_norm
"""

import math

import torch
import torch.nn as nn

# -- p3.adamw.optimizer -------------------------------------------------------------------------


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), step for step torch.optim.AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        # Every group gets these unless it sets its own; step() reads them from the group, so that
        # a schedule can write group["lr"] between steps.
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()  # the update is not part of any model: record no graph, write the leaves in place
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():  # the closure runs forward and backward: it needs autograd back
                loss = closure()
        for group in self.param_groups:
            lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:  # unused this step: no moments, no decay, no step counted
                    continue
                grad = p.grad
                state = self.state[p]  # per parameter, so state_dict() saves it and a resume continues
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m, in the parameter's dtype and shape
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]

                p.mul_(1 - lr * weight_decay)  # decoupled decay, on the value before the Adam update
                m.lerp_(grad, 1 - beta1)  # m = beta1·m + (1 - beta1)·g
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v = beta2·v + (1 - beta2)·g²

                # p -= lr · m̂ / (sqrt(v̂) + eps), with m̂ = m / (1 - beta1^t) and v̂ = v / (1 - beta2^t)
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                denom = (v.sqrt() / math.sqrt(bias_correction2)).add_(eps)  # sqrt(v̂) + eps
                p.addcdiv_(m, denom, value=-lr / bias_correction1)
        return loss


def param_groups_for(model: nn.Module, weight_decay: float) -> list[dict]:
    """[decay group, no-decay group]: matrices and embeddings (dim >= 2) are decayed; biases and
    norm gains (dim < 2) are not. Each parameter appears once, tied weights included."""
    params = list(model.parameters())  # parameters() yields a tied weight once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


# -- p3.adamw.schedule --------------------------------------------------------------------------


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """The learning rate of optimizer step `step` (counted from 0): a linear warm-up that reaches
    max_lr at step warmup_steps - 1, a cosine from max_lr at step warmup_steps down to min_lr at
    step total_steps, and min_lr after that."""
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps  # step 0 already moves: max_lr / warmup_steps
    if step > total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)  # 0 at the warm-up's end, 1 at total
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0 along half a cosine
    return min_lr + coeff * (max_lr - min_lr)


def clip_grad_norm(parameters, max_norm: float, eps: float = 1e-6) -> torch.Tensor:
    """Scale every gradient by max_norm / (total + eps) when their joint 2-norm `total` exceeds
    max_norm; return `total`, measured before clipping, as a 0-dim tensor."""
    grads = [p.grad for p in parameters if p.grad is not None]  # one pass: `parameters` may be a generator
    if not grads:
        return torch.tensor(0.0)
    # the norm of all gradients laid end to end: sqrt(sum of every tensor's squared norm)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if total > max_norm:
        scale = max_norm / (total + eps)  # every gradient by the same factor: the direction is kept
        for g in grads:
            g.mul_(scale)
    return total
