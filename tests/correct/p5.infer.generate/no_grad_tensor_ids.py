# The ids kept as a tensor grown by one column per token, nanosecond timers, no_grad instead of inference_mode.
import contextlib  # noqa: E402


@contextlib.contextmanager
def _settings(model, threads):
    mode, count = model.training, torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        model.eval()
        yield
    finally:
        torch.set_num_threads(count)
        model.train(mode)


def generate(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, stop_ids=(), seed=None, threads=None):
    t_call = time.perf_counter_ns()
    with _settings(model, threads), torch.no_grad():
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        room = min(max_new_tokens, model.config.block_size - prompt_ids.shape[1])
        cache = model.new_cache(1, prompt_ids.shape[1] + room)
        t = time.perf_counter_ns()
        logits = model(prompt_ids, cache=cache)[0]
        prefill = (time.perf_counter_ns() - t) / 1e9
        tok = sample_next(logits[:, -1], temperature, top_k, top_p, gen)
        ids = torch.cat([prompt_ids, tok[:, None]], dim=1)
        ttft = (time.perf_counter_ns() - t_call) / 1e9
        steps = []
        for _ in range(room - 1):
            if int(tok) in stop_ids:
                break
            t = time.perf_counter_ns()
            logits = model(tok[:, None], cache=cache)[0]
            tok = sample_next(logits[:, -1], temperature, top_k, top_p, gen)
            steps.append((time.perf_counter_ns() - t) / 1e9)
            ids = torch.cat([ids, tok[:, None]], dim=1)
    speed = len(steps) / sum(steps) if steps else 0.0
    return ids, {"prefill_s": prefill, "ttft_s": ttft, "decode_s": steps, "tokens_per_s": speed}
