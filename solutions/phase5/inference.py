"""Phase 5 · Decoding on the CPU (reference).

p5.infer.sample    sample_next
p5.infer.generate  generate

sample_next turns the last position's logits into one token per row: greedy at temperature 0,
otherwise temperature, then top-k, then top-p, and one torch.multinomial draw. generate runs the
cached GPT of mentor.lab.decoding: one prefill, then one single-token forward per new token, timed.
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
    """One token id per row of (B, V) logits: greedy at temperature 0, else a draw from the filtered softmax."""
    if temperature == 0:
        return logits.argmax(dim=-1)  # (B,): the lowest index among equal maxima, and no random number taken
    # half-precision logits are widened first: their softmax would be off by ~1% per token
    x = logits.to(torch.promote_types(logits.dtype, torch.float32)) / temperature  # (B, V), a new tensor
    if top_k is not None and top_k < x.size(-1):
        kth = x.topk(top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest logit
        x = x.masked_fill(x < kth, float("-inf"))  # ties with the k-th are kept
    if top_p is not None and top_p < 1.0:
        probs, order = x.softmax(dim=-1).sort(dim=-1, descending=True)  # (B, V), most probable first
        before = probs.cumsum(dim=-1) - probs  # the mass of the tokens ranked above each one
        drop = before >= top_p  # the set already reached top_p without this token
        drop[:, 0] = False  # the most probable token always stays
        x = x.masked_fill(drop.scatter(-1, order, drop), float("-inf"))  # back to vocabulary order
    probs = x.softmax(dim=-1)  # the kept tokens renormalised; the rest exactly 0
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,) int64


# -- p5.infer.generate ----------------------------------------------------------------------------


@torch.inference_mode()  # nothing recorded: the cache would otherwise keep every step's graph alive
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
    """Decode up to max_new_tokens after a (1, P) prompt with the KV cache; the ids and the timings."""
    start = time.perf_counter()
    was_training, old_threads = model.training, torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    model.eval()  # no dropout while decoding
    try:
        P = prompt_ids.size(1)
        n = min(max_new_tokens, model.config.block_size - P)  # the sequence never outgrows block_size
        # a private generator: the run repeats with its seed, and the global random state is never touched
        generator = None if seed is None else torch.Generator(device=prompt_ids.device).manual_seed(seed)
        stops = set(stop_ids)
        cache = model.new_cache(1, P + n)
        out = prompt_ids[0].tolist()  # Python ints: appending one costs nothing

        t0 = time.perf_counter()
        logits, _ = model(prompt_ids, cache=cache)  # prefill: the whole prompt in one forward, (1, P, V)
        prefill_s = time.perf_counter() - t0
        next_id = sample_next(logits[:, -1], temperature, top_k, top_p, generator)  # (1,)
        out.append(next_id.item())
        ttft_s = time.perf_counter() - start
        decode_s = []
        while len(out) < P + n and out[-1] not in stops:
            t0 = time.perf_counter()
            logits, _ = model(next_id[:, None], cache=cache)  # decode: one position, (1, 1, V)
            next_id = sample_next(logits[:, -1], temperature, top_k, top_p, generator)
            out.append(next_id.item())
            decode_s.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
        torch.set_num_threads(old_threads)
    total = sum(decode_s)
    stats = {
        "prefill_s": prefill_s,
        "ttft_s": ttft_s,
        "decode_s": decode_s,
        "tokens_per_s": len(decode_s) / total if decode_s else 0.0,
    }
    return torch.tensor([out], dtype=torch.long, device=prompt_ids.device), stats
