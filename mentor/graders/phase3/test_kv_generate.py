"""Grader: greedy decoding with the KV cache, against recomputing the prefix for every token.

The learner's `generate` runs on the reference's GPT and KVCache (their own from p3.kvcache.cache are
checked first, by test_your_cache_agrees), so that these tests grade the decode loop alone. The ids
must equal generate_recompute's; the work is counted in matmul FLOPs, the speed measured by `budget`.
"""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mentor.grading.expect import Misconception, expect, expect_equal, expect_self_check
from mentor.grading.torch_checks import copy_weights, expect_earlier_step_agrees

SMALL = dict(vocab_size=61, block_size=24, d_model=32, n_layers=3, n_heads=4)
# The model decoding is timed on: 2 layers, d_model 64, 2 heads, 96 tokens, 0.14M parameters. A
# prompt of 16 and 512 new tokens: recomputing costs a forward of up to 528 positions per token, the
# cache one position's; on one thread of a laptop-class CPU the reference decodes 6-12x faster.
TIMED = dict(vocab_size=96, block_size=528, d_model=64, n_layers=2, n_heads=2)
RTOL, ATOL = 1e-9, 1e-12


def config(module, fields=SMALL):
    return module.GPTConfig(**fields)


def reference_model(reference, seed=0, fields=SMALL):
    """The reference GPT in float64, every weight random (scale 0.3) but the LayerNorms, left at gain 1 and
    bias 0: its greedy ids vary with the prompt and from token to token. (Random LayerNorm biases make every
    continuation collapse onto one token, and a test of the batch could not fail.)"""
    model = reference.GPT(config(reference, fields)).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.split(".")[-2].startswith("ln"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the only one a busy CPU does
    not slow down by orders of magnitude (threads that spin waiting for cores other work holds). The
    timings compare both sides on that same one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tokens(B, T, seed, V=SMALL["vocab_size"]):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


@pytest.fixture
def reference_cache(submission, reference, monkeypatch):
    """While a test runs, your generate builds the reference's KVCache and is given the reference's GPT, so
    the test grades the decode loop; your own cache and cached forward are graded by test_your_cache_agrees."""
    monkeypatch.setattr(submission, "KVCache", reference.KVCache)


def test_your_cache_agrees(submission, reference):
    """the KVCache and cached forward your generate builds on (p3.kvcache.cache) match the full forward"""
    ref = reference_model(reference, seed=1)
    idx = tokens(2, 12, seed=1)
    with torch.no_grad():
        want = ref(idx)[0]

    def run():
        mine = submission.GPT(config(submission))
        copy_weights(mine, ref)
        H = SMALL["n_heads"]
        cache = submission.KVCache(SMALL["n_layers"], 2, H, 12, SMALL["d_model"] // H, dtype=torch.float64)
        with torch.no_grad():
            out = [mine(idx[:, :5], cache=cache)[0]] + [mine(idx[:, t : t + 1], cache=cache)[0] for t in range(5, 12)]
        return torch.cat(out, dim=1), want

    expect_earlier_step_agrees(
        "KVCache and cached GPT.forward", "p3.kvcache.cache", run,
        "Meanwhile the other tests of this step run your generate on the reference's GPT and KVCache.",
        "a prefill of 5 tokens then 7 single tokens, B=2",
    )  # fmt: skip


def expect_same_ids(got, want, prompt, N, where, model=None):
    """generate's ids equal generate_recompute's; otherwise say what the values show."""
    B, P = prompt.shape
    expect(isinstance(got, torch.Tensor), "generate returns a tensor of token ids", f"{where}: got {type(got).__name__}")
    expect(got.dtype == torch.long, "generate returns token ids as a torch.long tensor, like its prompt", f"{where}: got {got.dtype}")
    if tuple(got.shape) == (B, N):
        raise Misconception(
            "generate returns the prompt followed by the new tokens, (B, P + max_new_tokens), as generate_recompute does",
            f"{where}: shape {tuple(got.shape)}, expected {(B, P + N)}",
        )
    if tuple(got.shape) != (B, P + N):
        raise Misconception(
            f"generate appends exactly max_new_tokens new tokens to the prompt: shape (B, P + max_new_tokens) = {(B, P + N)}",
            f"{where}: shape {tuple(got.shape)}",
        )
    expect(
        torch.equal(got[:, :P].cpu(), prompt.cpu()),
        "generate returns the prompt followed by the new tokens: its first P ids are the prompt's",
        f"{where}: first ids {got[:, :P].tolist()}, prompt {prompt.tolist()}",
    )
    got, want = got.cpu(), want.cpu()
    if not torch.equal(got, want):
        rows = [b for b in range(B) if not torch.equal(got[b], want[b])]
        col = int((got[rows[0]] != want[rows[0]]).nonzero()[0])
        if B > 1 and all(torch.equal(got[b, P:], want[0, P:]) for b in range(B)):
            why = (
                "every sequence of the batch gets the first sequence's tokens: take the argmax of each row's "
                "last-position logits, logits[:, -1].argmax(dim=-1), a (B,) tensor"
            )
        elif col == P and model is not None and all(
            int(got[b, P]) == int(first_position_argmax(model, prompt)[b]) for b in rows
        ):
            why = (
                "the first new token continues the prompt's FIRST position: after the prefill, the next token is the "
                "argmax of the logits at the LAST position of the prompt, logits[:, -1]"
            )
        elif col == P:
            why = (
                "the first new token is already wrong: the next token is the argmax of the last position's logits, "
                "greedy, with no sampling"
            )
        else:
            why = (
                f"the ids differ from generate_recompute's from new token {col - P} on, the first right: each new token "
                "must be fed once, at its own position, into the same cache, and the next one taken greedily "
                "(argmax) from that forward's logits"
            )
        raise Misconception(why, f"{where}: row {rows[0]}: got {got[rows[0]].tolist()}\n expected {want[rows[0]].tolist()}")
    expect_equal(got.flatten().tolist(), want.flatten().tolist(), f"generate's ids differ from generate_recompute's ({where})")


@torch.no_grad()
def first_position_argmax(model, prompt):
    return model(prompt.to(next(model.parameters()).device))[0][:, 0].argmax(dim=-1).cpu()


def test_matches_recompute(submission, reference, reference_cache):
    """generate gives generate_recompute's ids, for B = 1 and B > 1, a prompt of one token, no new tokens, and up to block_size"""
    model = reference_model(reference, seed=2)
    T = SMALL["block_size"]
    for B, P, N in ((1, 5, 10), (3, 4, 12), (1, 1, 8), (2, 3, T - 3), (2, 6, 0), (1, 7, 1)):
        prompt = tokens(B, P, seed=10 * B + P)
        want = reference.generate_recompute(model, prompt, N)  # the expected ids, before your code runs
        if B > 1 and N > 1:  # the rows must differ, or a batch bug could not show
            expect_self_check(len({tuple(r) for r in want[:, P:].tolist()}), B, "the rows of the batch test")
        got = submission.generate(model, prompt.clone(), N)
        expect_same_ids(got, want, prompt, N, f"B={B}, prompt of {P}, max_new_tokens={N}", model)


def test_runs_without_autograd(submission, reference, reference_cache):
    """generate runs the model under torch.no_grad(): no autograd graph is built while decoding"""
    model = reference_model(reference, seed=3)
    seen = []
    handle = model.register_forward_pre_hook(lambda module, args: seen.append(torch.is_grad_enabled()))
    try:
        with torch.enable_grad():
            submission.generate(model, tokens(1, 3, seed=3), 5)
    finally:
        handle.remove()
    expect(bool(seen), "generate must call the model it is given")
    expect(
        not any(seen),
        "generate must run under torch.no_grad() (decorate it with @torch.no_grad()): otherwise every forward builds "
        "a graph, and since the cache holds keys and values that require grad, the graphs of all earlier tokens stay "
        "alive with it, so memory grows with every token",
        f"grad enabled in {sum(seen)} of {len(seen)} forwards",
    )


def test_inputs_model_and_repeats(submission, reference, reference_cache):
    """generate leaves the prompt and the model unchanged, and a second call gives the same ids"""
    model = reference_model(reference, seed=4)
    prompt = tokens(2, 4, seed=4)
    want = reference.generate_recompute(model, prompt, 9)
    before_prompt, before = prompt.clone(), {k: t.clone() for k, t in model.state_dict().items()}
    first = submission.generate(model, prompt, 9)
    second = submission.generate(model, prompt, 9)
    expect(torch.equal(prompt, before_prompt), "generate changed the prompt passed in: write the ids into a new tensor")
    changed = [k for k, t in model.state_dict().items() if not torch.equal(t, before[k])]
    expect(not changed, "generate changed the model's weights: decoding only reads them", f"changed: {changed[:4]}")
    expect_same_ids(first, want, prompt, 9, "first call")
    expect_same_ids(second, want, prompt, 9, "second call: a fresh cache for every call")


def test_each_position_fed_once(submission, reference, reference_cache):
    """the model sees every position once: the prompt (in one forward, or in pieces), then one token per forward, and never the last new token"""
    model = reference_model(reference, seed=8)
    for P, N in ((5, 7), (1, 3), (4, 1), (3, 0)):
        prompt, lengths = tokens(2, P, seed=P), []
        want_ids = reference.generate_recompute(model, prompt, N)
        handle = model.register_forward_pre_hook(
            lambda module, args, kwargs: lengths.append((args[0] if args else kwargs["idx"]).shape[1]), with_kwargs=True
        )
        try:
            got_ids = submission.generate(model, prompt, N)
        finally:
            handle.remove()
        fed, after_prompt = 0, []
        for n in lengths:
            (after_prompt if fed >= P else []).append(n)
            fed += n
        where = f"prompt of {P}, max_new_tokens={N}: forwards over {lengths} tokens"
        if any(n > 1 for n in after_prompt):
            why = (
                "generate recomputes the prefix: after the prompt each forward gets only the newest token, a (B, 1) "
                "input; the cache holds everything before it"
            )
        elif fed == P + N and isinstance(got_ids, torch.Tensor) and torch.equal(got_ids.cpu(), want_ids):
            why = (
                "no forward after the last token: the last new token is returned, never fed back. That forward is "
                "wasted, and with a cache of exactly P + max_new_tokens positions it does not fit"
            )
        elif fed > P + N - 1 and N:
            why = "each new token must be fed once, and the prompt once: a token fed twice is cached twice, at two positions"
        else:
            why = "generate feeds the prompt, then each new token but the last, one forward per token"
        expect_equal(fed, P + N - 1 if N else 0, why, f"{where}: {fed} positions in all, expected {P + N - 1 if N else 0}")


def flops_of(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_decoding_work_is_one_position_per_token(submission, reference, reference_cache):
    """generate does one prefill and one single-position forward per new token: its matmul FLOPs are the reference's"""
    model = reference_model(reference, seed=5)
    prompt, N = tokens(1, 4, seed=5), SMALL["block_size"] - 4
    want = flops_of(lambda: reference.generate(model, prompt, N))
    got = flops_of(lambda: submission.generate(model, prompt, N))
    # One decode step more or less than the reference's moves the count by 5%; recomputing the prefix
    # for every token costs about (P + N/2)x, 10x here.
    expect(
        got <= 1.25 * want,
        "generate recomputes the prefix: with the cache, the prompt goes through the model once (the prefill) and "
        "then each new token alone, as a (B, 1) input, into the same cache. Calling the model on the whole sequence, "
        "or a fresh cache for every token, recomputes every earlier position",
        f"matmul FLOPs of a prompt of 4 and {N} new tokens: yours {got:,}, reference {want:,} ({got / want:.1f}x)",
    )


def test_decoding_is_faster_than_recomputing(submission, reference, reference_cache, budget):
    """decoding 512 tokens with the cache is several times faster than generate_recompute on the same model"""
    torch.manual_seed(0)
    model = reference.GPT(config(reference, TIMED)).eval()  # float32, GPT-2's init
    prompt = tokens(1, 16, seed=6, V=TIMED["vocab_size"])
    N = TIMED["block_size"] - 16
    budget.throughput(
        lambda: submission.generate(model, prompt, N),
        lambda: reference.generate_recompute(model, prompt, N),
        units=N,
        why=(
            f"decoding {N} tokens with your generate is not enough faster than recomputing the prefix for every "
            "token: here 'reference' is generate_recompute, and the budget is a minimum speed-up over it. One prefill, "
            "then one single-position forward per token into the same cache"
        ),
        default=3.0, repeat=1,
    )  # fmt: skip


def test_on_the_gpu(submission, reference, reference_cache):
    """on a GPU, where there is one, generate decodes on the prompt's device and gives generate_recompute's ids"""
    model = reference_model(reference, seed=7).float()
    prompt = tokens(2, 3, seed=7)
    if not torch.cuda.is_available():
        got = submission.generate(model, prompt, 6)  # on the CPU in float32: the same check, without a GPU
        expect_same_ids(got, reference.generate_recompute(model, prompt, 6), prompt, 6, "float32 on the CPU")
        return
    model, prompt = model.cuda(), prompt.cuda()
    want = reference.generate_recompute(model, prompt, 6)
    got = submission.generate(model, prompt, 6)
    expect(got.device.type == "cuda", "generate returns its ids on the prompt's device", f"got {got.device}")
    expect_same_ids(got, want, prompt, 6, "float32 on the GPU")
