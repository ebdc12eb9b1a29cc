# inference_mode as a context, a while loop with an explicit counter, stop ids tested as a frozenset.
def generate(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, stop_ids=(), seed=None, threads=None):
    begin = time.perf_counter()
    saved_threads, was_training = torch.get_num_threads(), model.training
    stops = frozenset(int(s) for s in stop_ids)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        model.train(False)
        with torch.inference_mode():
            P = prompt_ids.shape[-1]
            limit = min(P + max_new_tokens, model.config.block_size)
            rng = None
            if seed is not None:
                rng = torch.Generator()
                rng.manual_seed(seed)
            cache = model.new_cache(batch_size=1, max_len=limit)
            a = time.perf_counter()
            logits, _ = model(prompt_ids, cache=cache)
            b = time.perf_counter()
            nxt = sample_next(logits[:, -1, :], temperature=temperature, top_k=top_k, top_p=top_p, generator=rng)
            seq = list(map(int, prompt_ids[0])) + [int(nxt[0])]
            first = time.perf_counter() - begin
            times = []
            count = 1
            while P + count < limit and seq[-1] not in stops:
                c = time.perf_counter()
                logits, _ = model(nxt.view(1, 1), cache=cache)
                nxt = sample_next(logits[:, -1, :], temperature=temperature, top_k=top_k, top_p=top_p, generator=rng)
                seq.append(int(nxt[0]))
                times.append(time.perf_counter() - c)
                count += 1
    finally:
        torch.set_num_threads(saved_threads)
        model.train(was_training)
    return torch.tensor(seq).unsqueeze(0), {
        "prefill_s": b - a,
        "ttft_s": first,
        "decode_s": times,
        "tokens_per_s": float(len(times) / sum(times)) if times else 0.0,
    }
