"""Phase 4 · Preference alignment with DPO.

Two steps fill this file, in order:
  p4.dpo.loss   sequence_logprobs, dpo_loss
  p4.dpo.train  make_reference, dpo_train

The data comes from mentor.lab.preferences: prompts of letters, the chosen response sorted, the rejected
one a near miss. A sequence is `<bos> prompt = response <eos>`; its labels have the ids' shape, with
the token id where it is scored (the response and <eos>) and IGNORE (-100) everywhere else. The
logits at position t predict the token at t + 1, so the label at t is scored by the logits at t - 1.

DPO, for a pair with policy log-probs pi_c, pi_r and reference log-probs ref_c, ref_r:
    margin = (pi_c - ref_c) - (pi_r - ref_r)
    loss   = -logsigmoid(beta · margin), averaged over the pairs
    reward = beta · (pi - ref), for each response, detached

Pointer: F.log_softmax, Tensor.gather and F.logsigmoid do the numerics; a model's forward returns
(logits, loss).
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.lab.preferences import IGNORE, PreferenceBatch

# -- p4.dpo.loss ----------------------------------------------------------------------------------


def sequence_logprobs(model: nn.Module, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log π(response | prompt) for each sequence: the sum, over the positions t whose label is not
    IGNORE, of log_softmax(logits[:, t - 1])[labels[:, t]]. Returns a (B,) tensor.

    input_ids, labels: (B, T) long. The log-probs are computed in float32 at least (bfloat16 and float16
    logits are cast up first; float64 stays float64), through log_softmax, never log(softmax). The result
    keeps its graph (the policy trains through it); the inputs, the weights and the model's train/eval
    mode are left as they were.
    """
    raise NotImplementedError


def dpo_loss(
    pi_chosen: torch.Tensor,
    pi_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, chosen_reward, rejected_reward) from four (B,) tensors of sequence log-probs.

    loss: -logsigmoid(beta · ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected))).mean(), a 0-dim
    tensor, finite for any margin. The reference's log-probs are constants: no gradient reaches them,
    even when the tensors passed in carry a graph. chosen_reward = beta · (pi_chosen - ref_chosen) and
    rejected_reward likewise, each (B,) and detached. Everything in the inputs' dtype; inputs unchanged.
    """
    raise NotImplementedError


# -- p4.dpo.train ---------------------------------------------------------------------------------


def make_reference(model: nn.Module) -> nn.Module:
    """A frozen copy of `model` to serve as DPO's reference: a new module with its own tensors, equal in
    value and dtype, every parameter with requires_grad=False, in eval mode. `model` is left as it was.
    """
    raise NotImplementedError


def dpo_train(
    policy: nn.Module,
    reference: nn.Module,
    pairs: PreferenceBatch,
    steps: int,
    beta: float,
    lr: float,
    seed: int,
) -> dict[str, list[float]]:
    """Train `policy` in place with DPO for `steps` steps, every step on all of `pairs`.

    First torch.manual_seed(seed); the reference goes into eval mode and its log-probs are computed under
    torch.no_grad(). The optimizer is torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0);
    each step: the policy's log-probs, dpo_loss, zero the gradients, backward, step. The reference stays
    bit-identical and gets no gradient.

    Returns {"loss": [...], "accuracy": [...], "margin": [...]}: one Python float per step, measured at
    that step's forward, before its update. accuracy: the fraction of pairs whose chosen reward is
    strictly greater than the rejected one; margin: the mean of chosen_reward - rejected_reward.
    """
    raise NotImplementedError
