"""Grader: the memory of one training step, counted by formula and checked against a measured step.

param_count against the parameters of a GPT built from the same config; every part of
training_memory against values worked out by hand; the total against the peak memory of real
training steps of a small GPT at two sizes; largest_batch against the formula it inverts.
"""

import copy
import dataclasses
import math

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.budget import _large_blocks_from_mmap, peak_bytes
from mentor.grading.expect import Misconception, expect, expect_equal, expect_self_check

PARTS = ("weights", "grads", "optimizer", "master", "activations", "total")
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}

GPT2 = dict(vocab_size=50257, block_size=1024, d_model=768, n_layers=12, n_heads=12)
# Worked out by hand; the reference must agree (expect_self_check) before any learner code runs.
# N = V·C + block·C + L·(12·C² + 13·C) + 2·C (+ V·C untied; biases off: L·(12·C² + 2·C) + C)
PARAMS_BY_HAND = [
    (GPT2, 124_439_808),
    ({**GPT2, "tied": False}, 124_439_808 + 50257 * 768),  # 163,037,184: the head is its own matrix
    ({**GPT2, "bias": False}, 124_439_808 - 12 * 11 * 768 - 768),  # 124,337,664: 11·C biases a block, ln_f's
    (dict(vocab_size=32000, block_size=4096, d_model=4096, n_layers=32, n_heads=32, tied=False, bias=False), 6_721_638_400),
    (dict(vocab_size=7, block_size=1, d_model=1, n_layers=1, n_heads=1, tied=False), 42),  # 7 + 1 + 25 + 2 + 7
]  # fmt: skip
# (config, batch, seq, dtype, optimizer, parts), the parts worked out by hand:
# activations = bytes · (L·(16·B·T·C + B·H·T²) + B·T·V); optimizer = 8·N for AdamW; master = 4·N in 16 bits.
MEMORY_BY_HAND = [
    # GPT-2 small, float32: act = 4·(12·(100,663,296 + 100,663,296) + 411,705,344)
    (GPT2, 8, 1024, "float32", "adamw",
     dict(weights=497_759_232, grads=497_759_232, optimizer=995_518_464, master=0,
          activations=11_310_497_792, total=13_301_534_720)),
    # the same in bfloat16 mixed precision: 2 + 2 + 8 + 4 bytes per parameter, half the activations
    (GPT2, 8, 1024, "bfloat16", "adamw",
     dict(weights=248_879_616, grads=248_879_616, optimizer=995_518_464, master=497_759_232,
          activations=5_655_248_896, total=7_646_285_824)),
    # N = 879,488; act = 2·(3·(614,400 + 120,000) + 300,000)
    (dict(vocab_size=1000, block_size=256, d_model=128, n_layers=3, n_heads=4, tied=False, bias=False), 3, 100, "float16", "sgd",
     dict(weights=1_758_976, grads=1_758_976, optimizer=0, master=3_517_952, activations=5_006_400, total=12_042_304)),
    # N = 34,611,712; act = 2·(8·(16·2·2048·512 + 2·8·2048²) + 2·2048·16384), the T² term 2/3 of it
    (dict(vocab_size=16384, block_size=2048, d_model=512, n_layers=8, n_heads=8, bias=False), 2, 2048, "bfloat16", "adamw",
     dict(weights=69_223_424, grads=69_223_424, optimizer=276_893_696, master=138_446_848,
          activations=1_744_830_464, total=2_298_617_856)),
    # everything 1: N = 42, act = 4·(16 + 1 + 7)
    (dict(vocab_size=7, block_size=1, d_model=1, n_layers=1, n_heads=1, tied=False), 1, 1, "float32", "sgd",
     dict(weights=168, grads=168, optimizer=0, master=0, activations=96, total=432)),
]  # fmt: skip
# The two training steps measured: one where the weights, gradients and AdamW's states dominate, one
# where the activations do, 40% of them the (T, T) attention weights.
MEASURED = [
    (dict(vocab_size=2048, block_size=64, d_model=256, n_layers=2, n_heads=4, tied=False), 2, 64),
    (dict(vocab_size=256, block_size=128, d_model=64, n_layers=4, n_heads=8), 4, 128),
]  # fmt: skip
# Within a factor of 1.5 of the measured peak. The formula counts what persists through a step and
# what autograd saves; the measured peak adds what the backward pass holds for a moment (the
# gradients of one layer's attention weights and of the logits), ln_f's tensors and the allocator's
# rounding: +5% to +30% at these two sizes. A count with the wrong structure (no T² term, one layer's
# activations instead of n_layers', no activations at all, megabytes for bytes) is off by 2x or more
# at one of them.
MEASURED_FACTOR = 1.5


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the only one a busy CPU does
    not slow down by orders of magnitude (threads that spin waiting for cores other work holds). The
    timings compare both sides on that same one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def config(module, fields):
    return module.GPTConfig(**fields)


def memory(module, fields, batch, seq, dtype="float32", optimizer="adamw"):
    """training_memory's dict, or a Misconception when it is not a dict of the six parts."""
    got = module.training_memory(config(module, fields), batch, seq, dtype, optimizer)
    expect(isinstance(got, dict), "training_memory returns a dict of bytes", f"got {type(got).__name__}")
    keys = set(got)
    expect(
        keys == set(PARTS),
        f"training_memory returns exactly the keys {', '.join(PARTS)}",
        f"missing {sorted(set(PARTS) - keys)}, unexpected {sorted(keys - set(PARTS))}",
    )
    return got


def describe(fields, batch=None, seq=None, dtype=None, optimizer=None) -> str:
    where = ", ".join(f"{k}={v}" for k, v in fields.items())
    run = f"; batch={batch}, seq={seq}, {dtype}, {optimizer}" if batch is not None else ""
    return f"GPTConfig({where}){run}"


def hand_values(reference):
    """MEMORY_BY_HAND, confirmed against the reference before the learner's code runs."""
    for fields, B, T, dtype, opt, parts in MEMORY_BY_HAND:
        expect_self_check(memory(reference, fields, B, T, dtype, opt), parts, f"the reference at {describe(fields, B, T, dtype, opt)}")
    return MEMORY_BY_HAND


def test_param_count_matches_the_model(submission, reference):
    """param_count(config) equals the parameters of a GPT built from the config, tied or not, with biases or without"""
    small = dict(vocab_size=97, block_size=11, d_model=24, n_layers=3, n_heads=4)
    cases = []
    for tied in (True, False):
        for bias in (True, False):
            fields = {**small, "tied": tied, "bias": bias}
            model = reference.GPT(config(reference, fields))
            want = sum(p.numel() for p in model.parameters())  # a tied matrix is yielded once
            expect_self_check(reference.param_count(config(reference, fields)), want, f"the reference count of {fields}")
            cases.append((fields, want))
    for fields, want in PARAMS_BY_HAND:
        expect_self_check(reference.param_count(config(reference, fields)), want, f"the reference count of {fields}")
        cases.append((fields, want))
    for fields, want in cases:
        full = {**dataclasses.asdict(reference.GPTConfig()), **fields}
        got = submission.param_count(config(submission, fields))
        expect(
            isinstance(got, int) or (isinstance(got, float) and got.is_integer()),
            "param_count returns a whole number (an int)",
            f"got {got!r}",
        )
        V, C, L, tied, bias = full["vocab_size"], full["d_model"], full["n_layers"], full["tied"], full["bias"]
        biases = L * 11 * C + C  # 13·C - 2·C a block, and ln_f's
        if tied and got - want == V * C:
            why = (
                "the tied head is counted twice: with tied=True the LM head's weight IS the token embedding, one "
                f"(vocab_size, d_model) tensor counted once (here the extra V·C = {V * C})"
            )
        elif not tied and want - got == V * C:
            why = f"an untied head (tied=False) is a (vocab_size, d_model) matrix of its own: add V·C = {V * C}"
        elif got - want == biases and not bias:
            why = (
                "with bias=False no Linear and no LayerNorm has a bias: only the LayerNorm gains remain (here "
                f"{biases} biases too many)"
            )
        elif want - got == biases and bias:
            why = (
                "with bias=True every Linear (qkv, proj, fc, the MLP's proj) and every LayerNorm has a bias: "
                f"{biases} are missing here (11·C a block, C for ln_f)"
            )
        else:
            why = (
                "param_count(config) must equal sum(p.numel() for p in GPT(config).parameters()): a block is two "
                "LayerNorms, qkv (C -> 3C), proj (C -> C), fc (C -> 4C) and the MLP's proj (4C -> C); then the two "
                "embeddings, ln_f, and the head when it is not tied"
            )
        expect_equal(got, want, why, f"{describe(fields)}: got {got}, expected {want} (off by {got - want})")


def check_part(got, want, part, where, diagnose):
    """Compare one part of the dict; `diagnose(got, want)` names the misconception when they differ."""
    value = got[part]
    expect(
        isinstance(value, int) or (isinstance(value, float) and value.is_integer()),
        f"training_memory's values are whole numbers of bytes (int), got {type(value).__name__} for {part!r}",
        f"{where}: {part} = {value!r}",
    )
    if value != want:
        raise Misconception(diagnose(value, want), f"{where}: {part}: got {value}, expected {want} (ratio {value / want if want else math.inf:.4g})")
    expect_equal(value, want, f"{part} is off", f"{where}")


def bytes_of(dtype):
    return BYTES[dtype]


def test_weights_and_gradients(submission, reference):
    """weights and gradients take N x (bytes of the dtype) each: 4 in float32, 2 in bfloat16 and float16"""
    for fields, B, T, dtype, opt, parts in hand_values(reference):
        N = parts["weights"] // bytes_of(dtype)
        got = memory(submission, fields, B, T, dtype, opt)
        where = describe(fields, B, T, dtype, opt)

        def weights_wrong(value, want):
            if value == 4 * N and dtype == "bfloat16":
                return "bfloat16 takes 2 bytes per element, like float16: 1 sign, 8 exponent and 7 mantissa bits"
            if value == 4 * N:
                return f"in mixed precision ({dtype}) the weights the model computes with are 16-bit: 2 bytes each"
            return f"weights take N x (bytes per element of {dtype}) = {N} x {bytes_of(dtype)}"

        def grads_wrong(value, want):
            if value == 0:
                return (
                    "the gradients are forgotten: backward() leaves one gradient per weight, in the weights' "
                    f"dtype, N x {bytes_of(dtype)} bytes here"
                )
            if value == 4 * N and dtype != "float32":
                return (
                    "bfloat16 takes 2 bytes per element, like float16"
                    if dtype == "bfloat16"
                    else "in mixed precision the gradients have the 16-bit weights' dtype: 2 bytes each"
                )
            return f"grads take N x (bytes of {dtype}) = {N} x {bytes_of(dtype)}, like the weights"

        check_part(got, parts["weights"], "weights", where, weights_wrong)
        check_part(got, parts["grads"], "grads", where, grads_wrong)


def test_optimizer_states(submission, reference):
    """AdamW keeps two float32 states per parameter (8·N bytes) in every dtype; plain SGD keeps none"""
    for fields, B, T, dtype, opt, parts in hand_values(reference):
        N = parts["weights"] // bytes_of(dtype)
        got = memory(submission, fields, B, T, dtype, opt)

        def diagnose(value, want):
            if opt == "adamw" and dtype != "float32" and value == 2 * bytes_of(dtype) * N:  # float32 passed before
                return (
                    "AdamW's two states stay float32 in mixed precision too (4 bytes each): v holds squared "
                    "gradients, whose range and small updates 16-bit floats would lose"
                )
            if opt == "adamw" and value == 4 * N:
                return (
                    "AdamW's state is counted once: it keeps TWO float32 tensors per parameter, the running mean of "
                    "the gradients (m) and of their squares (v), 8 bytes per parameter"
                )
            if opt == "sgd":
                return "plain SGD (no momentum) keeps no state: its optimizer part is 0"
            return f"the optimizer part is N x 4 x (float32 states): {N} x 8 for AdamW"

        check_part(got, parts["optimizer"], "optimizer", describe(fields, B, T, dtype, opt), diagnose)


def test_master_copy(submission, reference):
    """mixed precision keeps a float32 master copy of the weights (4·N bytes); float32 training has none"""
    for fields, B, T, dtype, opt, parts in hand_values(reference):
        N = parts["weights"] // bytes_of(dtype)
        got = memory(submission, fields, B, T, dtype, opt)

        def diagnose(value, want):
            if dtype == "float32":
                return (
                    "a master copy is counted in float32 training: there the weights ARE float32 and the update "
                    "is applied to them directly, so master is 0"
                )
            if value == 0:
                return (
                    f"the master copy is forgotten: {dtype} training applies each update to a float32 copy of the "
                    "weights (a 16-bit weight would round small updates away), 4 bytes per parameter"
                )
            return f"the master copy is float32, 4 bytes per parameter whatever the training dtype: 4 x {N}"

        check_part(got, parts["master"], "master", describe(fields, B, T, dtype, opt), diagnose)


def test_activations(submission, reference):
    """activations count the tensors the concept lists: per block 16·B·T·C + B·H·T², times n_layers, plus the logits B·T·V, in the dtype's bytes"""
    for fields, B, T, dtype, opt, parts in hand_values(reference):
        full = {**dataclasses.asdict(reference.GPTConfig()), **fields}
        V, C, L, H = full["vocab_size"], full["d_model"], full["n_layers"], full["n_heads"]
        nb = bytes_of(dtype)
        per_block, attention, logits = 16 * B * T * C + B * H * T * T, B * H * T * T, B * T * V
        got = memory(submission, fields, B, T, dtype, opt)

        def diagnose(value, want):
            if value == nb * (L * (per_block - attention) + logits):
                return (
                    "the attention matrix is forgotten: every block keeps its softmax weights for backward, one "
                    f"(T, T) matrix per head, B·H·T² elements (the T² term; here {attention} a block)"
                )
            if value == nb * (L * (per_block - attention + B * T * T) + logits):
                return "the attention weights are one (T, T) matrix per head: B·H·T², not B·T²"
            if value == nb * (per_block + logits):
                return f"the activations are not multiplied by the layers: each of the n_layers = {L} blocks keeps its own"
            if value == nb * L * per_block:
                return "the logits are forgotten: the loss keeps the (B, T, vocab_size) scores for backward, B·T·V elements"
            if value * nb == want:
                return f"the activations are counted in elements, not bytes: multiply by {nb} bytes per element of {dtype}"
            if value == 2 * want and nb == 2:
                return (
                    "bfloat16 takes 2 bytes per element, like float16: in mixed precision the activations are 16-bit"
                    if dtype == "bfloat16"
                    else "float16 activations take 2 bytes per element"
                )
            return (
                "the activations should be bytes of dtype x (n_layers x (16·B·T·C + B·H·T²) + B·T·V): per block the "
                "inputs and outputs of both LayerNorms, q, k, v, the attention weights, the attention's output and "
                "the MLP's 4C hidden layer before and after GELU"
            )

        check_part(got, parts["activations"], "activations", describe(fields, B, T, dtype, opt), diagnose)


def test_total_in_bytes(submission, reference):
    """total is the sum of the five parts, in bytes (not MB or MiB), and every value is an int"""
    for fields, B, T, dtype, opt, parts in hand_values(reference):
        got = memory(submission, fields, B, T, dtype, opt)
        where = describe(fields, B, T, dtype, opt)
        total, want = got["total"], parts["total"]
        if isinstance(total, (int, float)) and total != want and want > 10**6:
            for unit, size in (("MB (10^6 bytes)", 10**6), ("MiB (2^20 bytes)", 2**20), ("GB", 10**9), ("GiB", 2**30)):
                expect(
                    not math.isclose(total, want / size, rel_tol=1e-3),
                    f"the total is in {unit}, not in bytes: training_memory returns bytes, convert only to print",
                    f"{where}: total = {total}, expected {want} bytes",
                )
            for a, b in ((10**6, 2**20), (2**20, 10**6)):
                expect(
                    not math.isclose(total, want * b / a, rel_tol=1e-6),
                    "MiB vs MB confusion: a value went to megabytes with one unit and back with the other; "
                    "1 MiB = 2^20 bytes = 1.048576 MB. Keep everything in bytes",
                    f"{where}: total = {total}, expected {want} (ratio {total / want:.6f})",
                )
        check_part(got, want, "total", where, lambda value, w: (
            "total must be the sum of weights, grads, optimizer, master and activations"
            if all(isinstance(got[p], (int, float)) for p in PARTS[:-1]) and value != sum(got[p] for p in PARTS[:-1])
            else "the total differs from the hand count: the tests of the parts say which part is off"
        ))  # fmt: skip


def test_unknown_dtype_or_optimizer(submission):
    """an unknown dtype or optimizer raises ValueError instead of guessing its size"""
    fields = dict(vocab_size=64, block_size=8, d_model=16, n_layers=1, n_heads=2)
    for dtype, opt in (("bf16", "adamw"), ("float64", "adamw"), ("float32", "adam"), ("float32", "lion")):
        try:
            submission.training_memory(config(submission, fields), 2, 8, dtype, opt)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as e:  # noqa: BLE001 - any other exception is the wrong kind
            raise Misconception(
                f"an unknown dtype or optimizer ({dtype!r}, {opt!r}) must raise ValueError",
                f"raised {type(e).__name__}: {e}",
            ) from None
        raise Misconception(
            f"training_memory(..., dtype={dtype!r}, optimizer={opt!r}) returned a result: an unknown name must raise "
            "ValueError, or a typo such as 'bf16' silently counts the wrong bytes",
        )


def test_defaults_inputs_and_repeats(submission, reference):
    """the defaults are float32 and AdamW, the config is left unchanged, and a second call gives the same dict"""
    fields, B, T = dict(vocab_size=300, block_size=32, d_model=48, n_layers=2, n_heads=6, tied=False), 3, 32
    want = memory(reference, fields, B, T, "float32", "adamw")
    cfg = config(submission, fields)
    before = copy.deepcopy(dataclasses.asdict(cfg))
    first = submission.training_memory(cfg, B, T)
    second = submission.training_memory(cfg, B, T)
    expect(
        dataclasses.asdict(cfg) == before,
        "training_memory changed the config passed in: leave it as it was",
        f"before {before}, after {dataclasses.asdict(cfg)}",
    )
    expect_equal(first, want, "called with the defaults, training_memory counts float32 training with AdamW")
    expect_equal(second, first, "a second call with the same arguments must give the same dict")
    submission.param_count(cfg), submission.largest_batch(cfg, T, 10**8)
    expect(
        dataclasses.asdict(cfg) == before,
        "param_count or largest_batch changed the config passed in: leave it as it was",
        f"before {before}, after {dataclasses.asdict(cfg)}",
    )


configs = st.builds(
    dict,
    vocab_size=st.integers(1, 5000),
    block_size=st.integers(1, 512),
    d_model=st.sampled_from([1, 2, 8, 12, 64, 96]),
    n_layers=st.integers(1, 6),
    n_heads=st.sampled_from([1, 2, 4]),
    tied=st.booleans(),
    bias=st.booleans(),
)


def test_generated_configs(submission, reference):
    """for generated configs and sizes every part matches, and only the activations grow with the batch, linearly"""
    probe = dict(vocab_size=5, block_size=4, d_model=4, n_layers=1, n_heads=1)
    submission.training_memory(config(submission, probe), 1, 4)  # a stub raises here, before any example runs

    @settings(max_examples=60, deadline=None, derandomize=True, database=None, phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(configs, st.integers(0, 16), st.integers(1, 512), st.sampled_from(sorted(BYTES)), st.sampled_from(["adamw", "sgd"]))
    def check(fields, B, T, dtype, opt):
        want = memory(reference, fields, B, T, dtype, opt)  # expected first, then the learner's
        got = memory(submission, fields, B, T, dtype, opt)
        double = memory(submission, fields, 2 * B, T, dtype, opt)
        expect_equal(got, want, f"training_memory differs from the formula for {describe(fields, B, T, dtype, opt)}")
        expect(
            all(double[p] == got[p] for p in ("weights", "grads", "optimizer", "master"))
            and double["activations"] == 2 * got["activations"],
            "only the activations depend on the batch, and twice the batch holds twice the activations",
            f"{describe(fields, B, T, dtype, opt)}: at B={B} {got}, at B={2 * B} {double}",
        )

    check()


def training_steps(reference, fields, B, T, device):
    """Two AdamW steps of the reference GPT from nothing, gradients kept between them (zero_grad(set_to_none=False),
    as under gradient accumulation), so that at the second step weights, gradients, states and activations coexist."""

    def run():
        g = torch.Generator().manual_seed(0)
        model = reference.GPT(config(reference, fields)).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        idx = torch.randint(0, fields["vocab_size"], (B, T), generator=g).to(device)
        targets = torch.randint(0, fields["vocab_size"], (B, T), generator=g).to(device)
        for _ in range(2):
            loss = model(idx, targets)[1]  # the logits are not kept: the loss saves what backward needs
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=False)
            del loss

    return run


def measured_peak(reference, fields, B, T, device) -> int:
    """Peak bytes of training_steps: CUDA's max_memory_allocated, or the CPU's peak resident set.
    On the CPU the warm-up runs under the same allocator settings as the measurement, so that no memory
    it freed earlier, still held by the allocator, is counted."""
    run = training_steps(reference, fields, B, T, device)
    if device == "cpu":
        with _large_blocks_from_mmap():
            run()
            return peak_bytes(run, device)
    run()
    return peak_bytes(run, device)


def test_total_predicts_a_measured_training_step(submission, reference):
    """total is within a factor of 1.5 of the peak memory measured on two training steps of a small GPT, at two sizes"""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for fields, B, T in MEASURED:
        want = memory(reference, fields, B, T)["total"]
        peak = measured_peak(reference, fields, B, T, device)
        expect(
            want / MEASURED_FACTOR <= peak <= want * MEASURED_FACTOR,
            "grader self-check: the reference formula does not predict the measured step, a course bug: please report it",
            f"{describe(fields, B, T, 'float32', 'adamw')}: formula {want / 2**20:.2f} MiB, measured {peak / 2**20:.2f} MiB",
        )
        got = memory(submission, fields, B, T)["total"]
        expect(
            isinstance(got, (int, float)) and got > 0 and peak / MEASURED_FACTOR <= got <= peak * MEASURED_FACTOR,
            f"your total does not predict a real training step: two AdamW steps of this GPT in float32 on {device} "
            f"peaked at {peak / 2**20:.1f} MiB, and the total must be within a factor of {MEASURED_FACTOR} of it. "
            "Something large is miscounted: the activations' structure (the T² attention weights, n_layers blocks), "
            "the AdamW states, or the unit (bytes)",
            f"{describe(fields, B, T, 'float32', 'adamw')}: your total {got!r} bytes, measured {peak} bytes "
            f"(ratio {got / peak if isinstance(got, (int, float)) else float('nan'):.3g})",
        )


LARGEST = [
    # config, seq, memory, dtype, optimizer: answers in the tens, so that a 5% error in the budget shows
    (GPT2, 1024, 16 * 2**30, "bfloat16", "adamw"),  # the gpu-16gb laptop
    (GPT2, 256, 8 * 2**30, "float32", "adamw"),
    (dict(vocab_size=8192, block_size=512, d_model=256, n_layers=6, n_heads=8), 512, 3 * 10**9, "float32", "adamw"),
    (dict(vocab_size=1000, block_size=256, d_model=128, n_layers=3, n_heads=4, tied=False, bias=False), 100, 2 * 2**30, "float16", "sgd"),
    (GPT2, 1024, 10**9, "float32", "adamw"),  # the weights, gradients and states alone do not fit: 0
]  # fmt: skip


def test_largest_batch(submission, reference):
    """largest_batch is the largest B >= 0 whose total fits in memory_bytes: B fits, B + 1 does not"""
    for fields, T, mem, dtype, opt in LARGEST:
        want = reference.largest_batch(config(reference, fields), T, mem, dtype, opt)
        total = lambda b: memory(reference, fields, b, T, dtype, opt)["total"]  # noqa: E731
        fits = (want == 0 or total(want) <= mem) and mem < total(want + 1)  # 0 when nothing fits
        expect_self_check(fits, True, f"the reference largest_batch at {describe(fields)}")
        where = f"{describe(fields)}, seq={T}, memory_bytes={mem}, {dtype}, {opt}"
        got = submission.largest_batch(config(submission, fields), T, mem, dtype, opt)
        expect(
            isinstance(got, int) or (isinstance(got, float) and got.is_integer()),
            "largest_batch returns a whole number of sequences (an int)",
            f"{where}: got {got!r}",
        )
        if got != want:
            got = int(got)
            mine = lambda b: submission.training_memory(config(submission, fields), b, T, dtype, opt)["total"]  # noqa: E731
            if got == want + 1:
                why = f"off by one: batch {got} does not fit ({total(got)} bytes > {mem}); return the largest that does"
            elif got < 0:
                why = "when not even the weights, gradients and optimizer states fit, no batch does: return 0, not a negative number"
            elif got in (reference.largest_batch(config(reference, fields), T, int(mem * f), dtype, opt) for f in (10**6 / 2**20, 2**20 / 10**6)):
                why = (
                    "MiB vs MB confusion: memory_bytes is in bytes, and so is every total; converting one side to MB "
                    "(10^6) and the other to MiB (2^20) moves the answer by 4.9%"
                )
            elif got > 0 and mine(got) <= mem < mine(got + 1):
                why = (
                    "largest_batch agrees with your training_memory, but that total is off: fix training_memory first, "
                    "its tests say how"
                )
            else:
                why = f"batch {want} is the largest that fits (its total is {total(want)} bytes <= {mem} < {total(want + 1)})"
            raise Misconception(why, f"{where}: got {got}, expected {want}")
        expect_equal(got, want, "largest_batch is off", where)
