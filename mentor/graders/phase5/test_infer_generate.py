"""Grader: the timed decoding loop on the KV cache, against the reference and a loop without a cache.

The learner's generate runs on the course's cached GPT (mentor.lab.decoding) in float64 with random
weights, with the reference's sample_next in place of theirs (theirs is checked first, by
test_your_sample_next_agrees), so these tests grade the loop alone. Hooks on the model record every
forward: how many positions it saw, whether a cache came with it, the grad mode, train/eval mode, the
thread count, and when it started and ended; the stats are checked against those times.
"""

import time

import pytest
import torch

from mentor.grading.expect import Misconception, expect, expect_equal, expect_self_check
from mentor.lab.decoding import GPT, GPTConfig

_perf_counter, _equal, _get_rng_state = time.perf_counter, torch.equal, torch.get_rng_state  # bound before learner code

SMALL = dict(vocab_size=61, block_size=48, d_model=32, n_layers=2, n_heads=4)
# The timed model: 2 layers, d_model 64, 128 tokens; a decode step is ~0.3 ms of Python and small matmuls.
TIMED = dict(vocab_size=128, block_size=160, d_model=64, n_layers=2, n_heads=2)
SLACK_S = 2e-5  # perf_counter readings of the hooks and of the learner's timers: the same clock, read apart

KEYS = ("prefill_s", "ttft_s", "decode_s", "tokens_per_s")


def random_model(seed, dropout=0.0, fields=SMALL):
    """The cached GPT in float64, every weight random (scale 0.3) but the LayerNorms, in eval mode: its greedy
    ids vary with the prompt and from token to token."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**fields, dropout=dropout)).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.split(".")[-2].startswith("ln"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def tokens(P, seed, V=SMALL["vocab_size"]):
    return torch.randint(0, V, (1, P), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def recompute_greedy(model, prompt, n):
    """Greedy decoding without a cache: the whole sequence through the model for every token."""
    ids = prompt
    for _ in range(n):
        logits, _ = model(ids)
        ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


class Watch:
    """Forward hooks that record, for each forward of `model`: the positions fed, whether a cache came with
    them, grad mode, train mode, thread count, start and end times."""

    def __init__(self, model, fail_at=None):
        self.forwards, self.fail_at = [], fail_at
        self.handles = [
            model.register_forward_pre_hook(self.before, with_kwargs=True),
            model.register_forward_hook(self.after),
        ]

    def before(self, module, args, kwargs):
        idx = args[0] if args else kwargs.get("idx")
        cache = kwargs.get("cache", args[2] if len(args) > 2 else None)
        self.forwards.append(dict(
            T=int(idx.shape[1]), cache=cache is not None, grad=torch.is_grad_enabled(), training=module.training,
            threads=torch.get_num_threads(), start=_perf_counter(), end=None,
        ))  # fmt: skip
        if self.fail_at is not None and len(self.forwards) == self.fail_at:
            raise RuntimeError("a forward failed (raised by the grader on purpose)")

    def after(self, module, args, output):
        self.forwards[-1]["end"] = _perf_counter()

    def remove(self):
        for h in self.handles:
            h.remove()


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reference_sampler(submission, reference, monkeypatch):
    """While a test runs, your generate calls the reference's sample_next, so the test grades the loop; your own
    sample_next is graded by test_your_sample_next_agrees."""
    monkeypatch.setattr(submission, "sample_next", reference.sample_next)


def call_generate(submission, model, prompt, n, where, **kwargs):
    """(ids, stats) from the learner's generate on a copy of the prompt, the types checked."""
    x = prompt.clone()
    try:
        out = submission.generate(model, x, n, **kwargs)
    except ValueError as e:
        if "block_size" in str(e) or "max_len" in str(e):
            raise Misconception(
                "the run went past block_size (or past the cache it made): at most min(max_new_tokens, block_size - P) "
                "new tokens, and a cache of P plus that many positions",
                f"{where}: ValueError: {e}",
            ) from None
        raise
    expect(_equal(x, prompt), "generate changed the prompt passed in: read prompt_ids, write the ids into a new tensor")
    expect(out is not None, "generate returned None: did you forget `return`?")
    expect(
        isinstance(out, tuple) and len(out) == 2,
        "generate returns a tuple of two: (ids, stats)",
        f"{where}: got {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""),
    )
    ids, stats = out
    expect(isinstance(ids, torch.Tensor), "generate returns the ids as a tensor", f"{where}: got {type(ids).__name__}")
    expect(ids.dtype == torch.long, "generate returns the ids as int64 (torch.long), like the prompt", f"{where}: {ids.dtype}")
    P = prompt.shape[1]
    if ids.dim() == 1:
        raise Misconception("generate returns ids of shape (1, P + n), a batch of one, like prompt_ids", f"{where}: shape {tuple(ids.shape)}")
    expect(ids.dim() == 2 and ids.shape[0] == 1, "generate returns ids of shape (1, P + n)", f"{where}: shape {tuple(ids.shape)}")
    expect(
        ids.shape[1] > P and _equal(ids[:, :P], prompt),
        "generate returns the prompt followed by the new tokens: its first P ids are the prompt's",
        f"{where}: first ids {ids[0, :P + 2].tolist()}, prompt {prompt[0].tolist()}",
    )
    expect(isinstance(stats, dict), "generate's stats are a dict", f"{where}: got {type(stats).__name__}")
    missing = [k for k in KEYS if k not in stats]
    expect(not missing, f"the stats dict holds {', '.join(KEYS)}", f"{where}: missing {missing}")
    return ids, stats


def expect_same_ids(got, want, prompt, where):
    """The learner's ids equal the expected ones; otherwise what the values show."""
    P = prompt.shape[1]
    g, w = got[0].tolist(), want[0].tolist()
    if g != w:
        if len(g) != len(w) and g[: min(len(g), len(w))] == w[: min(len(g), len(w))]:
            why = (
                f"generate made {len(g) - P} new tokens where {len(w) - P} were due: it stops after max_new_tokens, when "
                "the sequence reaches block_size, or right after a stop id (kept)"
            )
        else:
            col = next(i for i, (a, b) in enumerate(zip(g, w)) if a != b)
            why = (
                "the first new token is already wrong: it comes from the prefill's LAST position, logits[:, -1]"
                if col == P
                else f"the ids differ from new token {col - P} on, the first right: feed each new token once, at its own "
                "position, into the same cache, and choose the next one from that forward's logits[:, -1]"
            )
        raise Misconception(why, f"{where}: got {g}\n expected {w}")
    expect_equal(g, w, f"generate's ids differ from the expected ones ({where})")


# -- tests -------------------------------------------------------------------------------------------


def test_your_sample_next_agrees(submission, reference):
    """the sample_next your generate builds on (p5.infer.sample) gives the reference's draws"""
    logits = torch.randn(300, 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    for T, k, p in ((0.0, None, None), (1.0, None, None), (0.8, 10, 0.9)):
        want = reference.sample_next(logits.clone(), T, k, p, torch.Generator().manual_seed(2))
        try:
            got = submission.sample_next(logits.clone(), T, k, p, torch.Generator().manual_seed(2))
            same = isinstance(got, torch.Tensor) and got.shape == want.shape and int((got != want).sum()) <= 1
            detail = "different draws"
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the earlier step reads the same way
            same, detail = False, f"it raised {type(e).__name__}: {e}"
        expect(
            same,
            "your sample_next from p5.infer.sample disagrees with the reference: fix it first (mentor check "
            "p5.infer.sample). Meanwhile the other tests of this step run your generate with the reference's sample_next.",
            f"temperature={T}, top_k={k}, top_p={p}: {detail}",
        )


def test_greedy_matches_decoding_without_a_cache(submission, reference, reference_sampler):
    """at temperature 0 the ids equal the reference's and a loop that recomputes the whole sequence, token for token"""
    model = random_model(2)
    for P, n in ((5, 12), (1, 8), (12, 1), (3, 30)):
        prompt = tokens(P, seed=P)
        want = recompute_greedy(model, prompt, n)
        ref_ids, _ = reference.generate(model, prompt, n, temperature=0)
        expect_self_check(ref_ids[0].tolist(), want[0].tolist(), f"the reference's greedy ids, prompt of {P}")
        ids, _ = call_generate(submission, model, prompt, n, f"prompt of {P}, {n} new tokens", temperature=0)
        expect_same_ids(ids, want, prompt, f"greedy, prompt of {P}, max_new_tokens={n}")


def test_block_size_ends_the_run(submission, reference, reference_sampler):
    """the sequence never grows past block_size: a prompt of 40 (block_size 48) gets 8 new tokens of the 30 asked"""
    model = random_model(3)
    B = SMALL["block_size"]
    for P, n in ((40, 30), (B - 1, 5), (B - 4, 4)):
        prompt = tokens(P, seed=30 + P)
        want = recompute_greedy(model, prompt, min(n, B - P))
        ids, _ = call_generate(submission, model, prompt, n, f"prompt of {P}, max_new_tokens={n}", temperature=0)
        expect_same_ids(ids, want, prompt, f"block_size {B}, prompt of {P}, max_new_tokens={n}")


def test_seeded_sampling_is_reproducible(submission, reference, reference_sampler):
    """with a seed, sampling gives the reference's ids for that seed, the same ids twice, and other ids for another seed"""
    model = random_model(4)
    prompt = tokens(4, seed=4)
    for seed, T, k, p in ((0, 1.0, None, None), (1, 0.7, 20, None), (2, 1.3, None, 0.9), (3, 1.0, 10, 0.8)):
        where = f"seed={seed}, temperature={T}, top_k={k}, top_p={p}"
        kwargs = dict(temperature=T, top_k=k, top_p=p, seed=seed)
        want, _ = reference.generate(model, prompt, 30, **kwargs)
        other, _ = reference.generate(model, prompt, 30, **{**kwargs, "seed": seed + 100})
        expect_self_check(_equal(want, other), False, f"two seeds give two runs ({where})")
        first, _ = call_generate(submission, model, prompt, 30, where, **kwargs)
        if _equal(first, other):
            raise Misconception("the seed is not the one given: torch.Generator().manual_seed(seed), then pass that generator to every sample_next", where)
        second, _ = call_generate(submission, model, prompt, 30, where + ", second call", **kwargs)
        expect(
            _equal(first, second),
            "two runs with the same seed differ: make a fresh torch.Generator().manual_seed(seed) in each call and "
            "draw every token from it",
            f"{where}: first {first[0].tolist()}\n second {second[0].tolist()}",
        )
        if not _equal(first, want):
            raise Misconception(
                "the seeded run differs from the reference's with the same seed: one generator, "
                "torch.Generator().manual_seed(seed), made once per call, and one sample_next(logits[:, -1], temperature, "
                "top_k, top_p, generator) per new token, in order",
                f"{where}: got {first[0].tolist()}\n expected {want[0].tolist()}",
            )
        expect_same_ids(first, want, prompt, where)


def test_the_global_random_state_is_untouched(submission, reference, reference_sampler):
    """a seeded run, and a greedy one, leave torch's global random state exactly as it was"""
    model = random_model(5)
    prompt = tokens(3, seed=5)
    for kwargs in (dict(temperature=1.0, seed=7), dict(temperature=0.8, top_k=5, seed=8), dict(temperature=0)):
        torch.manual_seed(1234)
        before = _get_rng_state()
        call_generate(submission, model, prompt, 10, str(kwargs), **kwargs)
        expect(
            _equal(_get_rng_state(), before),
            "generate moved torch's global random state: with a seed, draw from a local "
            "torch.Generator().manual_seed(seed), never torch.manual_seed(seed), which resets the caller's random stream",
            f"generate(..., {', '.join(f'{k}={v}' for k, v in kwargs.items())})",
        )


def test_stop_ids_end_the_run(submission, reference, reference_sampler):
    """the run ends right after a token in stop_ids, which is kept; stop ids in the prompt do not count"""
    model = random_model(6)
    prompt = tokens(5, seed=6)
    full = recompute_greedy(model, prompt, 20)[0].tolist()
    new = full[5:]
    j = next(i for i in range(3, len(new)) if new[i] not in new[:i])  # a token first made at step j
    stop = new[j]
    want = torch.tensor([full[: 5 + j + 1]])
    for stop_ids, what in (([stop], "a list"), ((stop, 60), "a tuple"), ({stop}, "a set")):
        ids, _ = call_generate(submission, model, prompt, 20, f"stop_ids as {what}", temperature=0, stop_ids=stop_ids)
        if ids.shape[1] == want.shape[1] - 1 and ids[0].tolist() == full[: 5 + j]:
            raise Misconception("the stop id is dropped: the token in stop_ids that ends the run is kept as its last id", f"stop_ids {stop_ids}")
        expect_same_ids(ids, want, prompt, f"greedy, stop_ids {stop_ids} ({what}), the stop id made at new token {j}")
    in_prompt = torch.cat([prompt, torch.tensor([[stop]])], dim=1)
    want = recompute_greedy(model, in_prompt, 6)
    later = want[0, 6:].tolist()
    expect_self_check(stop in later, False, "the prompt's stop id is never made after it")
    ids, _ = call_generate(submission, model, in_prompt, 6, "a stop id in the prompt", temperature=0, stop_ids=[stop])
    if ids.shape[1] == in_prompt.shape[1] + 1:
        raise Misconception(
            "a stop id in the prompt ended the run: only the new tokens count, each checked as it is made",
            f"stop_ids [{stop}], the prompt ends with {stop}: 1 new token, 6 expected",
        )
    expect_same_ids(ids, want, in_prompt, "a stop id in the prompt")
    first = new[0]
    ids, stats = call_generate(submission, model, prompt, 20, "the first new token is a stop id", temperature=0, stop_ids=[first])
    expect_same_ids(ids, torch.tensor([full[:6]]), prompt, "the first new token is a stop id")
    expect(
        stats["decode_s"] == [] and stats["tokens_per_s"] == 0.0,
        "with a single new token there is no decode step: decode_s is [] and tokens_per_s 0.0",
        f"decode_s {stats['decode_s']}, tokens_per_s {stats['tokens_per_s']}",
    )


def test_each_position_goes_through_the_model_once(submission, reference, reference_sampler):
    """one prefill of the whole prompt with a cache, then one single-token forward per new token but the last"""
    model = random_model(7)
    for P, n in ((6, 15), (1, 5), (10, 1), (2, 46)):
        prompt = tokens(P, seed=70 + P)
        watch = Watch(model)
        try:
            ids, _ = call_generate(submission, model, prompt, n, f"prompt of {P}, {n} new tokens", temperature=0)
        finally:
            watch.remove()
        made = ids.shape[1] - P
        lengths = [f["T"] for f in watch.forwards]
        where = f"prompt of {P}, {made} new tokens: forwards over {lengths} positions"
        expect(bool(lengths), "generate must call the model it is given, as model(idx, cache=cache)", where)
        expect(
            all(f["cache"] for f in watch.forwards),
            "every forward must get the cache (model(idx, cache=cache)): without it the model recomputes the prefix",
            where,
        )
        if any(T > 1 for T in lengths[1:]):
            why = (
                "generate recomputes the prefix: after the prefill each forward gets only the newest token, a (1, 1) "
                "input; the cache holds everything before it"
            )
        elif lengths[0] != P:
            why = "the prefill feeds the whole prompt in one forward, (1, P), before any new token"
        elif sum(lengths) == P + made:
            why = "no forward after the last new token: it is returned, never fed back (the work would be wasted)"
        else:
            why = "generate feeds the prompt once, then each new token but the last, one forward each"
        expect_equal(sum(lengths), P + made - 1, why, f"{where}: {sum(lengths)} positions in all, expected {P + made - 1}")


def test_runs_in_eval_without_autograd_and_hands_the_model_back(submission, reference, reference_sampler):
    """the model runs in eval mode under inference_mode or no_grad, and comes back in the mode it came in"""
    model = random_model(8, dropout=0.2)
    prompt = tokens(4, seed=8)
    want = recompute_greedy(model, prompt, 10)  # eval mode: no dropout
    for mode in ("train", "eval"):
        getattr(model, mode)()
        watch = Watch(model)
        torch.manual_seed(5)
        before = _get_rng_state()
        try:
            with torch.enable_grad():
                ids, _ = call_generate(submission, model, prompt, 10, f"model in {mode} mode", temperature=0)
        finally:
            watch.remove()
        where = f"model handed over in {mode} mode"
        expect(
            not any(f["grad"] for f in watch.forwards),
            "generate must run the model under torch.inference_mode() (or no_grad): otherwise every forward records a "
            "graph, and the cache keeps every step's graph alive, so memory grows with each token",
            f"{where}: grad enabled in {sum(f['grad'] for f in watch.forwards)} of {len(watch.forwards)} forwards",
        )
        expect(
            not any(f["training"] for f in watch.forwards),
            "the model must run in eval mode while decoding (model.eval()): in train mode its dropout changes every token",
            f"{where}: train mode in {sum(f['training'] for f in watch.forwards)} of {len(watch.forwards)} forwards",
        )
        expect(
            model.training == (mode == "train"),
            f"generate must hand the model back in the mode it came in ({mode}): remember model.training and restore it",
            f"{where}: model.training is {model.training} after the call",
        )
        expect(_equal(_get_rng_state(), before), "greedy decoding moved torch's global random state", where)
        expect_same_ids(ids, want, prompt, where)


def test_threads_are_set_for_the_call_and_restored(submission, reference, reference_sampler):
    """threads=2 runs every forward on 2 threads and restores the count after, even when the model raises"""
    model = random_model(9)
    prompt = tokens(3, seed=9)
    for threads, seen in ((2, 2), (None, 1)):
        watch = Watch(model)
        try:
            call_generate(submission, model, prompt, 6, f"threads={threads}", temperature=0, threads=threads)
        finally:
            watch.remove()
        counts = sorted({f["threads"] for f in watch.forwards})
        expect(
            counts == [seen],
            f"with threads={threads} every forward must run on {seen} thread(s): torch.set_num_threads(threads) before "
            "the prefill (and nothing when threads is None)",
            f"thread counts seen in the forwards: {counts}",
        )
        expect(
            torch.get_num_threads() == 1,
            "generate must restore the thread count it found (torch.get_num_threads() before, set it back after)",
            f"threads={threads}: {torch.get_num_threads()} threads after the call, 1 before",
        )
    model.train()
    watch = Watch(model, fail_at=3)
    try:
        submission.generate(model, prompt.clone(), 6, temperature=0, threads=2)
        raised = False
    except RuntimeError:
        raised = True
    finally:
        watch.remove()
    expect_self_check(raised, True, "a forward raising inside generate")
    expect(
        torch.get_num_threads() == 1 and model.training,
        "when the model raises, generate must still restore the thread count and the model's mode: do both in a "
        "`finally:`",
        f"after the error: {torch.get_num_threads()} threads (1 before), model.training {model.training} (True before)",
    )


def test_stats_time_the_prefill_and_each_decode_step(submission, reference, reference_sampler):
    """prefill_s, ttft_s, decode_s and tokens_per_s are Python floats that bracket the model's own forwards"""
    model = random_model(10)
    for P, n in ((8, 12), (20, 5)):
        prompt = tokens(P, seed=100 + P)
        watch = Watch(model)
        start = _perf_counter()
        try:
            ids, stats = call_generate(submission, model, prompt, n, f"prompt of {P}", temperature=0.9, seed=1)
        finally:
            end = _perf_counter()
            watch.remove()
        expect_stats(stats, watch.forwards, start, end, ids.shape[1] - P, f"prompt of {P}, {n} new tokens")


def expect_stats(stats, forwards, start, end, made, where):
    for key in ("prefill_s", "ttft_s", "tokens_per_s"):
        expect(type(stats[key]) is float, f"stats['{key}'] is a Python float (use .item() or perf_counter differences)", f"{where}: {type(stats[key]).__name__}")
    decode = stats["decode_s"]
    expect(
        isinstance(decode, list) and all(type(t) is float for t in decode),
        "stats['decode_s'] is a list of Python floats, one per decode step",
        f"{where}: {type(decode).__name__}",
    )
    expect(
        len(decode) == made - 1,
        "decode_s holds one time per token after the first: the first new token comes from the prefill",
        f"{where}: {len(decode)} entries for {made} new tokens",
    )
    f = forwards
    nxt = [fw["start"] for fw in f[1:]] + [end]  # when the next forward (or the return) began
    prefill = stats["prefill_s"]
    expect(
        f[0]["end"] - f[0]["start"] - SLACK_S <= prefill <= nxt[0] - start + SLACK_S,
        "prefill_s times the prefill: the forward of the whole prompt (perf_counter before and after it)",
        f"{where}: prefill_s {prefill * 1e3:.3f} ms, the prefill forward took {(f[0]['end'] - f[0]['start']) * 1e3:.3f} ms",
    )
    ttft = stats["ttft_s"]
    expect(
        f[0]["end"] - start - SLACK_S <= ttft <= nxt[0] - start + SLACK_S,
        "ttft_s is the time from the call's start to the first new token: cache, prefill and the first sample_next",
        f"{where}: ttft_s {ttft * 1e3:.3f} ms; the first token was ready between {(f[0]['end'] - start) * 1e3:.3f} and "
        f"{(nxt[0] - start) * 1e3:.3f} ms",
    )
    for i, t in enumerate(decode):
        step = f[i + 1]
        expect(
            step["end"] - step["start"] - SLACK_S <= t <= nxt[i + 1] - f[i]["end"] + SLACK_S,
            "each decode_s entry times one decode step: the forward of the newest token and the choice of the next, "
            "in the order the tokens were made",
            f"{where}: decode_s[{i}] = {t * 1e3:.3f} ms, its forward took {(step['end'] - step['start']) * 1e3:.3f} ms",
        )
    want = len(decode) / sum(decode) if decode else 0.0
    expect(
        abs(stats["tokens_per_s"] - want) <= 1e-6 * max(want, 1.0),
        "tokens_per_s is the decode speed: len(decode_s) / sum(decode_s), 0.0 without a decode step",
        f"{where}: tokens_per_s {stats['tokens_per_s']:.6g}, len(decode_s) / sum(decode_s) = {want:.6g}",
    )


def test_model_unchanged(submission, reference, reference_sampler):
    """generate leaves the model's weights as they were"""
    model = random_model(11)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    call_generate(submission, model, tokens(4, seed=11), 10, "prompt of 4", temperature=1.0, seed=3)
    changed = [k for k, v in model.state_dict().items() if not _equal(v, before[k])]
    expect(not changed, "generate changed the model's weights: decoding only reads them", f"changed: {changed[:4]}")


def test_latency_budget(submission, reference, reference_sampler, budget):
    """decoding 120 tokens with sampling stays within the budget of the reference's time on the same model"""
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TIMED)).eval()  # float32, GPT-2's init
    prompt = tokens(8, seed=12, V=TIMED["vocab_size"])
    settings = dict(temperature=0.8, top_k=40, top_p=0.95, seed=0)
    budget.latency(
        lambda: submission.generate(model, prompt, 120, **settings),
        lambda: reference.generate(model, prompt, 120, **settings),
        why=(
            "generate is slower per token than the budget allows: one prefill, then one single-token forward into the "
            "same cache per token; no cache rebuilt, no sequence copied, no tensor grown by torch.cat per token"
        ),
        default=3.0, repeat=3,
    )  # fmt: skip
