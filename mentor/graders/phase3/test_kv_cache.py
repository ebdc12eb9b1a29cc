"""Grader: the KV cache and the cached forward of the GPT, against the full forward.

The learner's GPT carries the reference's weights in float64; its logits from a prefill and from
decoding one token at a time must equal the full forward's at every position. The cache's contents,
size, allocation and overflow are checked directly, the work of a decode step by counting its
matmul FLOPs, and its time against the context length by the `budget` fixture.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from mentor.grading.expect import Misconception, as_array, expect, expect_close, expect_equal, expect_shape
from mentor.grading.torch_checks import copy_weights, randomized

# float64: a cached forward does the same arithmetic as the full one in another grouping (~1e-16
# relative); a wrong position, mask, slot or swap moves the logits by 1e-2 or more.
RTOL, ATOL = 1e-9, 1e-12
SMALL = dict(vocab_size=61, block_size=24, d_model=32, n_layers=3, n_heads=4)  # 3 layers: slots can mix up
# The model the decode time is measured on: big enough that recomputing 512 positions costs far more
# than one, small enough to time on a laptop CPU in a second.
TIMED = dict(vocab_size=96, block_size=528, d_model=64, n_layers=2, n_heads=2)
DTYPE_BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2, torch.float64: 8}
CACHED = (
    "with a cache, forward(idx) runs only the T newest tokens, at positions cache.length .. cache.length+T-1: "
    "each layer writes their keys and values into its own slot, and query i attends over keys 0 .. length+i"
)


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the only one a busy CPU does
    not slow down by orders of magnitude (threads that spin waiting for cores other work holds). The
    timings compare both sides on that same one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config(module, **fields):
    return module.GPTConfig(**{**SMALL, **fields})


def models(submission, reference, seed=0, **fields):
    """(learner's GPT, reference GPT), float64, on the same random weights, in eval mode."""
    ref = randomized(reference.GPT(config(reference, **fields)), seed).eval()
    mine = submission.GPT(config(submission, **fields))
    copy_weights(mine, ref)
    return mine, ref


def new_cache(module, cfg, B, max_len=None, dtype=torch.float64, device=None):
    H = cfg["n_heads"]
    return module.KVCache(cfg["n_layers"], B, H, max_len or cfg["block_size"], cfg["d_model"] // H, dtype=dtype, device=device)


def tokens(B, T, seed, V=SMALL["vocab_size"]):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


def logits_of(out, what="forward"):
    """The logits of forward's (logits, loss) pair."""
    expect(
        isinstance(out, tuple) and len(out) == 2,
        f"GPT.forward returns (logits, loss) with a cache too, like without one ({what})",
        f"got {type(out).__name__}",
    )
    return out[0]


@torch.no_grad()
def run_chunks(model, cache, idx, chunks):
    """Feed idx to a cached model chunk by chunk; the logits of every position, (B, sum(chunks), V)."""
    out, start = [], 0
    for T in chunks:
        out.append(logits_of(model(idx[:, start : start + T], cache=cache), f"a chunk of {T} tokens at position {start}"))
        start += T
    return torch.cat(out, dim=1)


@torch.no_grad()
def by_hand(ref, idx, chunks, offset_positions=True, shifted_mask=True):
    """Incremental decoding written out from the reference's layers, with the two classic bugs as switches:
    positions that restart at 0 in every chunk, and a causal mask aligned top-left (query i sees keys 0..i)."""
    H = ref.blocks[0].attn.n_heads
    keys, values = [[] for _ in ref.blocks], [[] for _ in ref.blocks]
    out, start = [], 0
    for T in chunks:
        ids = idx[:, start : start + T]
        pos = torch.arange(start, start + T) if offset_positions else torch.arange(T)
        x = ref.tok_emb.weight[ids] + ref.pos_emb.weight[pos]  # (B, T, C)
        for layer, block in enumerate(ref.blocks):
            B, _, C = x.shape
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in block.attn.qkv(block.ln1(x)).split(C, dim=2))
            keys[layer].append(k), values[layer].append(v)
            K, V = torch.cat(keys[layer], dim=2), torch.cat(values[layer], dim=2)  # (B, H, S, Dh)
            S = K.size(2)
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T if shifted_mask else 0)
            y = F.scaled_dot_product_attention(q, K, V, attn_mask=mask)  # (B, H, T, Dh)
            x = x + block.attn.proj(y.transpose(1, 2).reshape(B, T, C))
            x = x + block.mlp(block.ln2(x))
        out.append(ref.lm_head(ref.ln_f(x)))
        start += T
    return torch.cat(out, dim=1)


def close(a, b) -> bool:
    a, b = as_array(a), as_array(b)
    return a.shape == b.shape and bool(abs(a - b).max() <= ATOL + RTOL * abs(b).max()) if a.size else a.shape == b.shape


def expect_matches_full(got, want, ref, idx, chunks, what):
    """The cached logits equal the full forward's; otherwise say which classic bug the values show."""
    expect_shape(got, want.shape, f"{what}: the logits of the new tokens are (B, T, vocab_size), T the tokens fed")
    if not close(got, want):
        first = int(chunks[0])
        bad = [t for t in range(want.shape[1]) if not close(got[:, t], want[:, t])]
        prefill_ok = bad[0] >= first
        if not prefill_ok:
            why = (
                f"{what}: the first forward, from an empty cache, already differs from the full forward: among the T new "
                "tokens, query i may attend to keys 0..i and no further (the mask), and their positions start at 0"
            )
        elif close(got, by_hand(ref, idx, chunks, offset_positions=False)):
            why = (
                f"{what}: the positions are not offset by the cache length: new tokens sit at positions "
                "cache.length .. cache.length+T-1, so pos_emb must be indexed from there, not from 0"
            )
        elif close(got, by_hand(ref, idx, chunks, shifted_mask=False)):
            why = (
                f"{what}: the mask during decode hides cached keys: the T new queries are the LAST T of S keys, so query "
                "i sees keys 0..S-T+i (tril(diagonal=S - T)); one new token sees every key. A plain tril, or "
                "F.scaled_dot_product_attention(is_causal=True), aligns the triangle top-left and lets it see only key 0"
            )
        else:
            why = (
                f"{what}: the prefill is right but the later forwards differ from the full forward: {CACHED}. "
                "test_cache_holds_each_layers_keys_and_values checks the cache's contents"
            )
        raise Misconception(why, f"first wrong position {bad[0]} (prompt of {first}); chunks {list(chunks)}\n"
                                 + _diff(got[:, bad[0]], want[:, bad[0]]))  # fmt: skip
    expect_close(got, want, f"{what}: the cached logits differ from the full forward's", rtol=RTOL, atol=ATOL)


def _diff(got, want) -> str:
    from mentor.grading.expect import value_diff

    return value_diff(as_array(got), as_array(want))


def test_cache_buffers(submission):
    """KVCache allocates k and v once, each (n_layers, B, H, max_len, Dh) of zeros in the dtype asked for, length 0"""
    for dtype in (None, torch.bfloat16, torch.float16, torch.float64):
        kwargs = {} if dtype is None else {"dtype": dtype}
        cache = submission.KVCache(3, 2, 4, 10, 8, **kwargs)
        want = torch.float32 if dtype is None else dtype
        for name in ("k", "v"):
            buf = getattr(cache, name, None)
            expect(
                isinstance(buf, torch.Tensor),
                f"KVCache.{name} is one tensor of shape (n_layers, batch_size, n_heads, max_len, head_dim), allocated in "
                "__init__ (not a list that grows)",
                f"got {type(buf).__name__}",
            )
            expect_equal(list(buf.shape), [3, 2, 4, 10, 8], f"KVCache.{name} is (n_layers, batch_size, n_heads, max_len, head_dim)")
            expect(buf.dtype == want, f"KVCache.{name} has the dtype passed in (default float32)", f"got {buf.dtype}, expected {want}")
            expect(not buf.any(), f"a new KVCache.{name} holds zeros", "nonzero entries in a new cache")
        expect(
            cache.k.data_ptr() != cache.v.data_ptr(),
            "KVCache.k and KVCache.v must be two tensors: one buffer for both would write values over keys",
        )
        expect_equal(cache.length, 0, "a new KVCache has length 0: no position cached yet")
        expect_equal(cache.max_len, 10, "KVCache.max_len is the number of positions it holds")
    other = submission.KVCache(3, 2, 4, 10, 8)
    expect(
        other.k.data_ptr() != submission.KVCache(3, 2, 4, 10, 8).k.data_ptr(),
        "two KVCaches must not share their buffers: allocate them in __init__, not as class attributes",
    )


def test_nbytes(submission):
    """nbytes() is 2 · n_layers · batch_size · max_len · d_model · bytes per element, in every dtype"""
    for dtype, nb in DTYPE_BYTES.items():
        L, B, H, T, Dh = 5, 3, 4, 17, 6
        want = 2 * L * B * T * H * Dh * nb
        got = submission.KVCache(L, B, H, T, Dh, dtype=dtype).nbytes()
        if got == want // 2:
            why = "nbytes counts one of the two buffers: keys AND values, 2 · n_layers · B · max_len · d_model elements"
        elif got == want // nb * 4 and nb != 4:
            why = f"nbytes must use the element size of the cache's dtype ({dtype}: {nb} bytes), not always 4"
        elif got == want // nb:
            why = f"nbytes counts elements, not bytes: multiply by the element size ({dtype}: {nb} bytes)"
        else:
            why = "nbytes() is 2 · n_layers · batch_size · max_len · n_heads · head_dim · element size"
        expect_equal(got, want, why, f"KVCache({L}, {B}, {H}, {T}, {Dh}, dtype={dtype}): got {got}, expected {want}")


def test_append_writes_in_place(submission):
    """append writes one layer's new keys and values at positions length.., returns that layer's prefix, and leaves length to advance"""
    g = torch.Generator().manual_seed(1)
    k1, v1, k2, v2 = (torch.randn(2, 4, n, 8, generator=g, dtype=torch.float64) for n in (3, 3, 1, 1))
    originals = [t.clone() for t in (k1, v1, k2, v2)]
    cache = submission.KVCache(3, 2, 4, 6, 8, dtype=torch.float64)
    k_ptr, v_ptr = cache.k.data_ptr(), cache.v.data_ptr()
    out = cache.append(1, k1, v1)
    expect(isinstance(out, tuple) and len(out) == 2, "append returns (keys, values) of the layer", f"got {type(out).__name__}")
    keys, values = out
    if close(keys, v1) and close(values, k1):
        raise Misconception("keys and values are swapped: append(layer, k, v) writes k into cache.k and v into cache.v")
    expect_close(keys, k1, "append returns the layer's keys of positions 0 .. length+T-1, (B, H, length+T, Dh)", rtol=0, atol=0)
    expect_close(values, v1, "append returns the layer's values of positions 0 .. length+T-1", rtol=0, atol=0)
    expect(
        cache.length == 0,
        "append must not move length: every layer writes the same positions, so the length is advanced once per "
        "forward (advance(T)), not per layer",
        f"length after one append: {cache.length}",
    )
    expect_close(cache.k[1, :, :, :3], k1, "append(layer, k, v) writes k into cache.k[layer, :, :, length:length+T]", rtol=0, atol=0)
    expect_close(cache.v[1, :, :, :3], v1, "append writes v into cache.v[layer, :, :, length:length+T]", rtol=0, atol=0)
    expect(
        not cache.k[[0, 2]].any() and not cache.v[[0, 2]].any(),
        "append(layer, ...) writes only that layer's slot: the other layers' entries stay as they were",
    )
    cache.advance(3)
    expect_equal(cache.length, 3, "advance(T) moves length on by T")
    keys, values = cache.append(1, k2, v2)
    expect_close(
        keys, torch.cat([k1, k2], dim=2),
        "after advance(3), append of one position writes position 3 and returns positions 0..3, (B, H, 4, Dh)",
        rtol=0, atol=0,
    )  # fmt: skip
    expect_close(values, torch.cat([v1, v2], dim=2), "append returns every cached value of the layer, the new ones last", rtol=0, atol=0)
    expect(
        cache.k.data_ptr() == k_ptr and cache.v.data_ptr() == v_ptr and tuple(cache.k.shape) == (3, 2, 4, 6, 8),
        "the cache must be preallocated and written in place: append copies into k and v (k[layer, :, :, a:b] = ...), "
        "never builds new, longer tensors with torch.cat. A growing cache copies the whole prefix at every token and "
        "reallocates, and its peak memory is not known in advance",
    )
    changed = [n for n, t, o in zip(("k1", "v1", "k2", "v2"), (k1, v1, k2, v2), originals) if not torch.equal(t, o)]
    expect(not changed, "append changed the k or v passed in: copy them into the cache, leave them as they were", f"changed: {changed}")


def test_overflow_is_refused(submission, reference):
    """writing past max_len raises ValueError naming max_len, before anything is written"""
    g = torch.Generator().manual_seed(2)
    cache = submission.KVCache(2, 1, 2, 5, 4, dtype=torch.float64)
    cache.append(0, *(torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64) for _ in range(2)))
    cache.append(1, *(torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64) for _ in range(2)))
    cache.advance(4)
    before_k, before_v = cache.k.clone(), cache.v.clone()
    try:
        cache.append(0, *(torch.ones(1, 2, 2, 4, dtype=torch.float64) for _ in range(2)))
    except ValueError as e:
        expect(
            "5" in str(e),
            "the overflow error should say what the limit is: name max_len (here 5) in the message",
            f"message: {e}",
        )
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - any other exception is not the clear error asked for
        raise Misconception(
            "refuse with a clear error: an append past max_len must raise ValueError naming max_len, checked before "
            "writing, not fail inside a tensor copy",
            f"4 positions cached, 2 more, max_len 5: raised {type(e).__name__}: {e}",
        ) from None
    else:
        raise Misconception(
            "refuse with a clear error: an append past max_len must raise ValueError, not write or drop positions silently",
            "4 positions cached + 2 new, max_len 5: no error",
        )
    expect(
        torch.equal(cache.k, before_k) and torch.equal(cache.v, before_v) and cache.length == 4,
        "a refused append must leave the cache as it was: check the room before writing anything",
    )
    mine, _ = models(submission, reference, seed=3)
    small = new_cache(submission, SMALL, 1, max_len=6)
    try:
        with torch.no_grad():
            mine(tokens(1, 7, seed=4), cache=small)
    except ValueError:
        pass
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001
        raise Misconception(
            "refuse with a clear error: a prompt longer than the cache's max_len must raise ValueError from the cache",
            f"7 tokens into a cache of max_len 6: raised {type(e).__name__}: {e}",
        ) from None
    else:
        raise Misconception("refuse with a clear error: 7 tokens into a cache of max_len 6 must raise ValueError")


def test_prefill_matches_full_forward(submission, reference):
    """a prefill, one forward of the whole prompt into an empty cache, gives the full forward's logits, for B = 1 and B > 1, prompts of 1 to block_size tokens"""
    mine, ref = models(submission, reference, seed=5)
    for B, P in ((1, 1), (3, 7), (2, SMALL["block_size"])):
        idx = tokens(B, P, seed=P)
        with torch.no_grad():
            want = logits_of(ref(idx))
        cache = new_cache(submission, SMALL, B)
        got = run_chunks(mine, cache, idx.clone(), [P])
        expect_matches_full(got, want, ref, idx, [P], f"prefill of {P} tokens, B={B}")
        expect_equal(cache.length, P, f"after a prefill of {P} tokens the cache's length is {P}")


def test_decode_matches_full_forward(submission, reference):
    """after a prefill, decoding one token at a time up to max_len gives the full forward's logits at every position"""
    mine, ref = models(submission, reference, seed=6)
    T = SMALL["block_size"]
    for B, P in ((1, 5), (2, 1), (3, 9)):
        idx = tokens(B, T, seed=10 + B)
        with torch.no_grad():
            want = logits_of(ref(idx))
        chunks = [P] + [1] * (T - P)
        got = run_chunks(mine, new_cache(submission, SMALL, B), idx, chunks)
        expect_matches_full(got, want, ref, idx, chunks, f"prefill of {P} then {T - P} single tokens, B={B}")


def test_chunks_of_any_size(submission, reference):
    """feeding a sequence in chunks of any sizes (several new tokens onto a filled cache) gives the full forward's logits"""
    mine, ref = models(submission, reference, seed=7)
    T = SMALL["block_size"]
    idx = tokens(2, T, seed=8)
    with torch.no_grad():
        want = logits_of(ref(idx))
    run_chunks(mine, new_cache(submission, SMALL, 2), idx, [3])  # a stub raises here, before hypothesis starts

    @settings(max_examples=15, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.lists(st.integers(1, 8), min_size=1, max_size=12))
    def check(sizes):
        chunks, used = [], 0
        for n in sizes:  # cut the sizes to the block
            n = min(n, T - used)
            if n:
                chunks.append(n)
                used += n
        got = run_chunks(mine, new_cache(submission, SMALL, 2), idx[:, :used], chunks)
        expect_matches_full(got, want[:, :used], ref, idx[:, :used], chunks, f"chunks {chunks}")

    check()


def test_cache_holds_each_layers_keys_and_values(submission, reference):
    """after a prefill, the cache holds every layer's own keys and values at positions 0..P-1, and its length is P"""
    mine, ref = models(submission, reference, seed=9)
    B, P, L = 2, 6, SMALL["n_layers"]
    idx = tokens(B, P, seed=9)
    theirs = new_cache(reference, SMALL, B)
    with torch.no_grad():
        ref(idx, cache=theirs)
    want_k, want_v = theirs.k[:, :, :, :P], theirs.v[:, :, :, :P]
    cache = new_cache(submission, SMALL, B)
    with torch.no_grad():
        mine(idx, cache=cache)
    expect(
        cache.length != L * P,
        f"the length is advanced per layer instead of per token: after a prefill of {P} tokens through {L} layers it "
        f"reads {L * P}. Every layer writes the same positions; advance once per forward, after the last layer",
        f"length: {cache.length}, expected {P}",
    )
    expect_equal(cache.length, P, f"after a prefill of {P} tokens the cache's length is {P}")
    got_k, got_v = cache.k[:, :, :, :P], cache.v[:, :, :, :P]
    if close(got_k, want_v) and close(got_v, want_k):
        raise Misconception("keys and values are swapped: cache.k must hold the keys, cache.v the values")
    for name, got, want in (("k", got_k, want_k), ("v", got_v, want_v)):
        for layer in range(L):
            if close(got[layer], want[layer]):
                continue
            others = [j for j in range(L) if j != layer and close(got[layer], want[j])]
            if others or not got[layer].any():
                why = (
                    f"each layer has its own slot: layer l writes cache.{name}[l]. Slot {layer} holds "
                    + (f"layer {others[0]}'s entries" if others else "nothing")
                    + ": pass every block its own index (enumerate(self.blocks)) down to the attention"
                )
            else:
                why = (
                    f"cache.{name}[{layer}, :, :, :{P}] is not layer {layer}'s {'keys' if name == 'k' else 'values'}: write the "
                    "k and v that qkv produced for the new positions (after split_heads), at positions length..length+T-1"
                )
            raise Misconception(why, _diff(got[layer], want[layer]))
    expect_close(got_k, want_k, "the cached keys differ from the reference's", rtol=RTOL, atol=ATOL)
    expect_close(got_v, want_v, "the cached values differ from the reference's", rtol=RTOL, atol=ATOL)


def test_decoding_writes_in_place_and_reset_reuses(submission, reference):
    """decoding keeps writing into the same two buffers, and after reset() a new sequence decodes as if the cache were new"""
    mine, ref = models(submission, reference, seed=10)
    B, T = 2, SMALL["block_size"]
    first, second = tokens(B, T, seed=11), tokens(B, T, seed=12)
    with torch.no_grad():
        want = logits_of(ref(second))
    cache = new_cache(submission, SMALL, B)
    k, v = cache.k, cache.v
    run_chunks(mine, cache, first, [4] + [1] * (T - 4))
    expect(
        cache.k.data_ptr() == k.data_ptr() and cache.v.data_ptr() == v.data_ptr() and cache.k.shape == k.shape,
        "the cache must be preallocated and written in place: decoding writes into the k and v allocated in __init__ "
        "and never replaces them with a longer torch.cat of the old ones",
    )
    cache.reset()
    expect_equal(cache.length, 0, "reset() empties the cache: length 0")
    expect(cache.k.data_ptr() == k.data_ptr(), "reset() keeps the buffers: no reallocation, only the length goes back to 0")
    got = run_chunks(mine, cache, second, [6] + [1] * (T - 6))
    expect_matches_full(got, want, ref, second, [6] + [1] * (T - 6), "a second sequence after reset()")


def test_inputs_and_weights_unchanged(submission, reference):
    """a cached forward leaves idx and every parameter of the model as they were"""
    mine, _ = models(submission, reference, seed=13)
    idx = tokens(2, 5, seed=13)
    before_idx, before = idx.clone(), {k: t.clone() for k, t in mine.state_dict().items()}
    run_chunks(mine, new_cache(submission, SMALL, 2), idx, [3, 1, 1])
    expect(torch.equal(idx, before_idx), "the cached forward changed the idx passed in: leave the caller's tokens as they were")
    changed = [k for k, t in mine.state_dict().items() if not torch.equal(t, before[k])]
    expect(not changed, "the cached forward changed the model's parameters: a forward only reads them", f"changed: {changed[:4]}")


def test_bfloat16_and_device(submission, reference):
    """in bfloat16, with a bfloat16 cache, the cached logits match the full forward within bfloat16's precision (and on the GPU, where there is one)"""
    torch.manual_seed(0)
    ref = reference.GPT(config(reference)).eval()  # GPT-2's init: logits of size ~0.1 through 3 blocks
    mine = submission.GPT(config(submission))
    mine.load_state_dict(ref.state_dict())
    B, T = 2, SMALL["block_size"]
    idx = tokens(B, T, seed=14)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        r, m = ref.to(device=device, dtype=torch.bfloat16), mine.to(device=device, dtype=torch.bfloat16)
        with torch.no_grad():
            want = logits_of(r(idx.to(device))).float().cpu()
        cache = new_cache(submission, SMALL, B, dtype=torch.bfloat16, device=device)
        expect(cache.k.device.type == device, f"KVCache(device={device!r}) allocates its buffers on that device", f"k is on {cache.k.device}")
        got = run_chunks(m, cache, idx.to(device), [5] + [1] * (T - 5))
        expect(got.dtype == torch.bfloat16, "in bfloat16 with a bfloat16 cache the logits stay bfloat16", f"got {got.dtype}")
        # bfloat16 keeps 8 bits of mantissa: the full and the cached forward group their sums
        # differently, and the two differ by a few units of 2^-8 of the largest activations (~1e-3
        # on these logits); a wrong position or mask moves them by 1e-2 of their scale or more.
        scale = float(want.abs().max())
        expect_close(
            got.float().cpu(), want,
            f"in bfloat16 on {device} the cached logits differ from the full forward by more than bfloat16's rounding",
            rtol=0.02, atol=0.02 * scale,
        )  # fmt: skip


def decode_flops(model, cache_of, prompt, steps) -> tuple[int, int]:
    """(FLOPs of the prefill, FLOPs of each later single-token forward), counted by PyTorch's FlopCounterMode."""
    cache = cache_of()
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model(prompt, cache=cache)
        prefill = counter.get_total_flops()
        per_step = []
        for t in range(steps):
            with FlopCounterMode(display=False) as counter:
                model(prompt[:, :1], cache=cache)
            per_step.append(counter.get_total_flops())
    return prefill, per_step


def test_decode_step_does_one_positions_work(submission, reference):
    """a decode step computes only the new position: its matmul FLOPs stay those of one token plus attention over the cache"""
    mine, ref = models(submission, reference, seed=15)
    prompt = tokens(1, 4, seed=15)
    steps = SMALL["block_size"] - 4
    ref_prefill, ref_steps = decode_flops(ref, lambda: new_cache(reference, SMALL, 1), prompt, steps)
    my_prefill, my_steps = decode_flops(mine, lambda: new_cache(submission, SMALL, 1), prompt, steps)
    # The reference's attention over S keys is a few percent of a step here; 1.5x leaves room for an
    # attention that reads the whole buffer under a mask, and none for recomputing S positions (S x).
    worst = max(range(steps), key=lambda t: my_steps[t] / max(ref_steps[t], 1))
    expect(
        my_steps[worst] <= 1.5 * ref_steps[worst],
        "a decode step recomputes the prefix: with a cache, a forward of one new token must cost one position's "
        "projections and MLP plus its attention over the cached keys, not a forward of the whole sequence. Compute q, "
        "k, v for the new tokens only and read the old keys and values from the cache",
        f"matmul FLOPs of the decode step at position {4 + worst}: yours {my_steps[worst]:,}, reference {ref_steps[worst]:,}",
    )
    expect(
        my_prefill <= 1.5 * ref_prefill,
        "the prefill does more work than one forward of the prompt: run the prompt once, writing every layer's keys "
        "and values as it goes",
        f"matmul FLOPs of a 4-token prefill: yours {my_prefill:,}, reference {ref_prefill:,}",
    )


def test_decode_time_stays_flat(submission, reference, budget):
    """the time of one decode step barely grows with the context: at 512 cached positions it is within the budget of the step at 64"""
    torch.manual_seed(0)
    ref = reference.GPT(reference.GPTConfig(**TIMED)).eval()
    mine = submission.GPT(submission.GPTConfig(**TIMED)).eval()
    mine.load_state_dict(ref.state_dict())
    ids = tokens(1, 516, seed=16, V=TIMED["vocab_size"])
    cache = new_cache(submission, TIMED, 1, dtype=torch.float32)
    with torch.no_grad():
        mine(ids[:, :512], cache=cache)  # fills positions 0..511

    def decode_at(S):
        def run():
            cache.length = S  # decode positions S..S+3 again: the earlier entries are already there
            with torch.no_grad():
                for i in range(4):
                    mine(ids[:, S + i : S + i + 1], cache=cache)

        return run

    budget.latency(
        decode_at(512), decode_at(64),
        why=(
            "a decode step's time grows with the context: with a cache, one new token costs the same projections at "
            "any position, and only its attention reads more keys. Here 'yours' is four decode steps at 512 cached "
            "positions and 'reference' the same four at 64; recomputing the prefix makes the first about 10x the second"
        ),
        default=2.5, repeat=15,
    )  # fmt: skip
