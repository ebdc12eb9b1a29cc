"""Phase 5 · Decoding on the CPU.

Two steps fill this file, in order:
  p5.infer.sample    sample_next
  p5.infer.generate  generate

sample_next turns the last position's logits (B, V) into one token id per row:
    temperature 0         greedy: logits.argmax(dim=-1), no random number taken
    otherwise             x = logits (widened to float32 at least) / temperature
                          top-k: mask every logit below the k-th largest (ties with it kept)
                          top-p: of what top-k left, keep the most probable tokens until their
                                 cumulative probability reaches top_p (the crossing token kept,
                                 the most probable token always kept)
                          one torch.multinomial(softmax(x), 1, generator=generator) draw

generate decodes one sequence with the cached GPT of mentor.lab.decoding: `model.new_cache(1, max_len)`
gives an empty KVCache, and `model(idx, cache=cache)` runs the newest tokens at positions
cache.length.. and returns (logits, None).

Pointer: torch.topk, Tensor.sort, Tensor.cumsum, Tensor.scatter and torch.multinomial do the sampling;
time.perf_counter does the timing.
"""

import time

import torch

from mentor.lab.decoding import GPT

# -- p5.infer.sample ------------------------------------------------------------------------------


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of `logits` (B, V), as a (B,) int64 tensor.

    temperature == 0: the argmax of each row (the lowest index among equal maxima), drawing nothing.
    Otherwise, on float32 logits at least (bfloat16 and float16 widened first, float64 kept):
    divide by temperature; with top_k, keep only logits >= the k-th largest (a top_k >= V keeps
    everything); then with top_p, keep the smallest set of most probable tokens whose cumulative
    probability reaches top_p, the token that crosses it included and the most probable one always;
    renormalise and draw once with torch.multinomial(probs, num_samples=1, generator=generator) on the
    (B, V) probabilities in vocabulary order. `logits` is left unchanged; no Python loop over the vocabulary.
    """
    raise NotImplementedError


# -- p5.infer.generate ----------------------------------------------------------------------------


def generate(
    model: GPT,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop_ids=(),
    seed: int | None = None,
    threads: int | None = None,
) -> tuple[torch.Tensor, dict]:
    """Decode up to max_new_tokens (>= 1) after prompt_ids (1, P), P < block_size; return (ids, stats).

    One prefill of the whole prompt into a fresh cache, then one single-token forward per new token,
    each token chosen by sample_next(logits[:, -1], temperature, top_k, top_p, generator). Stops after
    max_new_tokens, when the sequence reaches block_size, or right after a token in stop_ids (which
    is kept). generator: torch.Generator().manual_seed(seed) when seed is given, else None; the global
    random state is never touched by a seeded call. threads: torch.set_num_threads(threads) for the
    call, the old count restored afterwards, even on an error. The model runs in eval mode under
    torch.inference_mode() (or no_grad) and is handed back in the mode it came in.

    ids: (1, P + n) int64, the prompt then the n new tokens. stats: {"prefill_s": float,
    "ttft_s": float, "decode_s": [float per token after the first], "tokens_per_s": float} with
    tokens_per_s = len(decode_s) / sum(decode_s), 0.0 when decode_s is empty.
    """
    raise NotImplementedError
