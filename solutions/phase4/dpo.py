"""Phase 4 · Preference alignment with DPO (reference).

p4.dpo.loss   sequence_logprobs, dpo_loss
p4.dpo.train  make_reference, dpo_train

Labels follow mentor.lab.preferences: the same shape as the ids, the token id where it is scored and
IGNORE (-100) elsewhere; the logits at position t score the label at position t + 1.
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.lab.preferences import IGNORE, PreferenceBatch

# -- p4.dpo.loss ----------------------------------------------------------------------------------


def sequence_logprobs(model: nn.Module, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log π(response | prompt) per sequence: the sum of the scored tokens' log-probabilities, (B,)."""
    logits, _ = model(input_ids)  # (B, T, V)
    logits, targets = logits[:, :-1], labels[:, 1:]  # position t predicts token t + 1: (B, T-1, V), (B, T-1)
    # log_softmax is x - logsumexp(x): finite however unlikely a token is, where log(softmax) reaches log(0).
    # Half-precision logits are widened first; float64 stays float64.
    logp = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    scored = targets != IGNORE
    token_logp = logp.gather(-1, targets.masked_fill(~scored, 0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return token_logp.masked_fill(~scored, 0.0).sum(dim=-1)  # (B,)


def dpo_loss(
    pi_chosen: torch.Tensor,
    pi_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss over a batch of pairs, and each pair's implicit rewards (detached), from (B,) log-probs."""
    chosen_logratio = pi_chosen - ref_chosen.detach()  # the reference is a constant: no gradient reaches it
    rejected_logratio = pi_rejected - ref_rejected.detach()
    margin = beta * (chosen_logratio - rejected_logratio)  # (B,)
    loss = -F.logsigmoid(margin).mean()  # logsigmoid(x) = -softplus(-x): finite for any margin
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


# -- p4.dpo.train ---------------------------------------------------------------------------------


def make_reference(model: nn.Module) -> nn.Module:
    """A frozen copy of `model`: its own parameters, equal in value, without grad, in eval mode."""
    reference = copy.deepcopy(model)  # new tensors: training the policy can never move the reference
    reference.requires_grad_(False)
    return reference.eval()


def dpo_train(
    policy: nn.Module,
    reference: nn.Module,
    pairs: PreferenceBatch,
    steps: int,
    beta: float,
    lr: float,
    seed: int,
) -> dict[str, list[float]]:
    """Train `policy` in place with DPO on every pair at each step; the loss, preference accuracy and mean
    reward margin of each step, measured before its update."""
    torch.manual_seed(seed)  # the policy's dropout masks, if it has dropout
    reference.eval()  # no dropout: the reference's log-probs are fixed numbers
    with torch.no_grad():  # the reference and the batch never change, so neither do these: once is enough
        ref_chosen = sequence_logprobs(reference, pairs.chosen_ids, pairs.chosen_labels)
        ref_rejected = sequence_logprobs(reference, pairs.rejected_ids, pairs.rejected_labels)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    history = {"loss": [], "accuracy": [], "margin": []}
    for _ in range(steps):
        pi_chosen = sequence_logprobs(policy, pairs.chosen_ids, pairs.chosen_labels)
        pi_rejected = sequence_logprobs(policy, pairs.rejected_ids, pairs.rejected_labels)
        loss, chosen_reward, rejected_reward = dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        history["accuracy"].append((chosen_reward > rejected_reward).float().mean().item())
        history["margin"].append((chosen_reward - rejected_reward).mean().item())
    return history
