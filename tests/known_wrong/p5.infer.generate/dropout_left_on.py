MISCONCEPTION = 'the model must run in eval mode while decoding'


# the model run in whatever mode it came in
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
