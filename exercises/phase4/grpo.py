"""Phase 4 · Reinforcement learning from a reward: GRPO.

Two steps fill this file:
  p4.grpo.objective  sample, group_advantages, grpo_loss: the pieces of one update
  p4.grpo.train      completion_logprobs and grpo_train: the loop, several epochs per batch

The task (mentor.lab.rewards): a prompt `<bos>c=` names a letter; letter_reward gives 0.25 for a
completion that ends with EOS within max_new_tokens, plus 0.75 times the share of its letters that
are the prompt's letter. starting_policy() is a small GPT that does the task a little.

Shapes: P prompts of Tp tokens, G = group_size completions each, N = P·G rows, L = max_new_tokens.
Row p·G + g is the g-th completion of prompt p. A mask (N, L) is True for each completion's tokens
up to and including its first EOS (completion_mask), False for the PAD after it.

Pointer: one token of one row is drawn as `torch.multinomial(probs, 1, generator=generator)`.
"""

import torch
import torch.nn.functional as F

from mentor.lab.rewards import EOS, MAX_NEW_TOKENS, PAD, completion_mask

# -- p4.grpo.objective --------------------------------------------------------------------------


def sample(model, prompt_ids, group_size, max_new_tokens, temperature=1.0, generator=None):
    """group_size completions of every prompt, and the log-prob of each sampled token.

    prompt_ids: (P, Tp) long, every prompt the same length. Returns (completions, logprobs):
      completions (P·G, max_new_tokens) long: rows p·G .. p·G + G-1 continue prompt p; after a row's
                  first EOS, the rest of the row is PAD
      logprobs    (P·G, max_new_tokens): log softmax(logits / temperature) at each sampled token,
                  0.0 where the row is PAD after its EOS

    The model runs in eval mode (dropout off) under no_grad, and is left in the mode it came in.
    At each position, every row draws once from softmax(last logits / temperature), all rows
    together in ONE torch.multinomial(probs, 1, generator=generator) call, rows that have ended
    included (their draw is then replaced by PAD). Stop early once every row has ended, if you like.
    """
    raise NotImplementedError


def group_advantages(rewards, eps=1e-4):
    """(P, G) rewards -> (P, G) advantages: each reward minus its group's mean, divided by its
    group's POPULATION std (correction=0) plus eps. A group of equal rewards gives zeros."""
    raise NotImplementedError


def grpo_loss(logprobs_new, logprobs_old, ref_logprobs, advantages, mask, clip_eps=0.2, kl_coef=0.04):
    """The GRPO loss of a batch and its statistics.

    logprobs_new (N, L) from the policy being trained (with autograd); logprobs_old (N, L) from the
    policy that sampled; ref_logprobs (N, L) from the frozen reference; advantages (N,), one per
    completion; mask (N, L) bool. Per valid token, with ratio = exp(new - old):
        surrogate = -min(ratio·A, clip(ratio, 1 - clip_eps, 1 + clip_eps)·A)
        kl        = exp(ref - new) - (ref - new) - 1
    loss = sum over valid tokens of (surrogate + kl_coef·kl) / number of valid tokens (at least 1).
    No gradient reaches logprobs_old or ref_logprobs.

    Returns (loss, stats): loss a 0-dim tensor; stats a dict of Python floats over the valid tokens:
      "clip_fraction"  share of tokens whose clip is active (ratio > 1 + clip_eps with A > 0, or
                       ratio < 1 - clip_eps with A < 0)
      "ratio"          mean ratio
      "kl"             mean kl
    """
    raise NotImplementedError


# -- p4.grpo.train ------------------------------------------------------------------------------


def completion_logprobs(model, prompt_ids, completions, temperature=1.0):
    """(N, L) log-probs under `model` of every completion token, given its prompt and the tokens
    before it: log softmax(logits / temperature) at each token, from ONE forward over the prompt
    followed by the completion. prompt_ids (N, Tp), one row per completion; completions (N, L).
    The model runs as the caller set it (mode, autograd)."""
    raise NotImplementedError


def grpo_train(
    policy, reference, prompts, reward_fn, iterations, group_size, epochs,
    clip_eps=0.2, kl_coef=0.04, lr=1e-3, seed=0, max_new_tokens=MAX_NEW_TOKENS, temperature=1.0,
):  # fmt: skip
    """Train `policy` with GRPO; `reference` is only read. Returns the history, one dict per iteration:
      "reward"                          the batch's mean reward (a float)
      "loss", "ratio", "clip_fraction", "kl"
                                        lists of floats, one per epoch: the loss and grpo_loss's stats

    The optimizer is torch.optim.AdamW(policy.parameters(), lr=lr), made once. Both models stay in
    eval mode (dropout off). Iteration i: sample group_size completions of every prompt with a
    torch.Generator seeded seed + i; score them with reward_fn(prompt of each row (N, Tp),
    completions) -> (N,); their group advantages; the reference's log-probs under no_grad; then
    `epochs` updates on this same batch, each: the policy's log-probs, grpo_loss against the old
    log-probs (those sample recorded, fixed for the whole batch), zero the gradients, backward, step.
    """
    raise NotImplementedError
