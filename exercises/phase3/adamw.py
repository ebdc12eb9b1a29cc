"""Phase 3 · AdamW from scratch, which parameters it decays, the learning-rate schedule and clipping.

Two steps fill this file, in order:
  p3.adamw.optimizer  AdamW.step, param_groups_for
  p3.adamw.schedule   lr_at, clip_grad_norm

AdamW, for each parameter p with gradient g at its step t (counted from 1), with lr, (beta1, beta2), eps
and weight_decay read from p's group:
    p *= 1 - lr·weight_decay                         decoupled decay, before the Adam update
    m = beta1·m + (1 - beta1)·g                      m, v: tensors shaped like p, zeros at first
    v = beta2·v + (1 - beta2)·g²
    p -= lr · (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
It must match torch.optim.AdamW step for step (but may not call it).

Pointer: `self.state[p]` is a dict per parameter that state_dict() saves; torch.optim.Optimizer's
constructor (called below) has already put every group's settings in `self.param_groups`.
"""

import math

import torch
import torch.nn as nn

# -- p3.adamw.optimizer -------------------------------------------------------------------------


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay: step for step what torch.optim.AdamW computes."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        # Given: each group in self.param_groups gets these settings unless it sets its own.
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss, or None.

        - Read lr, betas, eps and weight_decay from each group, at every call (a schedule changes lr).
        - Skip a parameter whose .grad is None: no decay, no state, no step counted.
        - Keep the step count and m, v in self.state[p], created the first time p has a gradient.
        - Update p in place and leave p.grad unchanged.
        - With a closure: call it once, first, inside `with torch.enable_grad():`, and return its loss.
        """
        raise NotImplementedError


def param_groups_for(model: nn.Module, weight_decay: float) -> list[dict]:
    """[{"params": [...], "weight_decay": weight_decay}, {"params": [...], "weight_decay": 0.0}]

    The first group holds every parameter with p.dim() >= 2 (linear weights, embeddings), the second
    every other one (biases, LayerNorm weights, scalars). Each parameter of model.parameters() appears
    exactly once, a tied weight included.
    """
    raise NotImplementedError


# -- p3.adamw.schedule --------------------------------------------------------------------------


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """The learning rate of step `step` (the first optimizer step is step 0), as a Python float.

    - step < warmup_steps:                max_lr · (step + 1) / warmup_steps   (max_lr at step warmup_steps - 1)
    - warmup_steps <= step <= total_steps: a half cosine from max_lr (at warmup_steps) to min_lr (at total_steps)
    - step > total_steps:                 min_lr
    0 <= warmup_steps < total_steps and 0 <= min_lr <= max_lr; warmup_steps = 0 means no warm-up.
    """
    raise NotImplementedError


def clip_grad_norm(parameters, max_norm: float, eps: float = 1e-6):
    """Clip the gradients of `parameters` (any iterable, a generator included) by their global norm.

    total = sqrt(sum over every parameter with a gradient of (p.grad ** 2).sum()); parameters whose .grad
    is None are skipped. If total > max_norm, every gradient is multiplied in place by
    max_norm / (total + eps); otherwise none changes. Returns total, as measured before clipping (a
    0-dim tensor or a float; 0.0 when no parameter has a gradient).
    """
    raise NotImplementedError
