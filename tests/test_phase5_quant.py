"""The INT8 quantization lesson (p5.quant): what tests/test_graders.py does not already prove.

The reference keeps the promises the task states (half-step bound, int8 in [-127, 127], zero groups,
group size checks, the layer's buffers and bytes, which modules quantize_model replaces); the fused
kernel the concept describes computes what it says; the graders' diagnosis helpers name the mistake
their values show; a crash in the learner's forward is reported with the learner's line; the drawn
answers of the reasoning checks agree with what the reference computes, their declared wrong answers
are rejected, and each rubric accepts its own explanation but not a vague one.
"""

import functools
import importlib.util
import math
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from mentor.authoring import compose_submission, grade_file
from mentor.checks import evaluate, expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import draw
from mentor.lab import GPT, GPTConfig
from mentor.paths import GRADERS_DIR, content_root

COURSE = load_course(content_root())
ABSMAX, LINEAR = "p5.quant.absmax", "p5.quant.linear"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def reference():
    return load(COURSE.content_root / "solutions" / "phase5" / "quant.py", "quant_reference")


@functools.cache
def grader(name: str):
    return load(GRADERS_DIR / "phase5" / f"{name}.py", f"grader_{name}")


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=61, block_size=16, d_model=32, n_layers=2, n_heads=2))


# -- the reference: quantize and dequantize ---------------------------------------------------------


def test_the_reference_quantizes_a_row_as_worked_out_by_hand():
    q, scale = reference().quantize(torch.tensor([[0.6, -2.54, 1.27]]), "channel")
    assert scale.shape == (1, 1) and scale.dtype == torch.float32
    assert math.isclose(float(scale), 2.54 / 127, rel_tol=1e-6)
    assert q.tolist() == [[30, -127, 64]] and q.dtype == torch.int8  # 0.6 / 0.02 = 30, 1.27 / 0.02 = 63.5 -> 64 (even)


def test_the_reference_scale_shapes_follow_the_granularity():
    w = torch.randn(6, 12)
    shapes = {g: reference().quantize(w, g, 4 if g == "group" else None)[1].shape for g in ("tensor", "channel", "group")}
    assert shapes == {"tensor": (), "channel": (6, 1), "group": (6, 3)}


def test_a_group_as_wide_as_the_row_is_per_channel():
    w = torch.randn(5, 8, dtype=torch.bfloat16)
    qc, sc = reference().quantize(w, "channel")
    qg, sg = reference().quantize(w, "group", 8)
    assert torch.equal(qc, qg) and torch.equal(sc, sg)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    rows=st.integers(1, 6),
    groups=st.integers(1, 4),
    g=st.sampled_from([1, 2, 5, 8]),
    granularity=st.sampled_from(["tensor", "channel", "group"]),
    dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float16]),
    seed=st.integers(0, 1000),
)
def test_every_reference_code_is_within_half_a_step(rows, groups, g, granularity, dtype, seed):
    w = (torch.randn(rows, groups * g, generator=torch.Generator().manual_seed(seed)) * 3).to(dtype)
    size = g if granularity == "group" else None
    q, scale = reference().quantize(w, granularity, size)
    s = grader("test_quant_absmax").per_element(scale.double(), size)
    assert q.dtype == torch.int8 and int(q.min()) >= -127 and int(q.max()) <= 127
    assert bool(((w.double() - q.double() * s).abs() <= s * (0.5 + 1e-6)).all())
    assert torch.equal(reference().dequantize(q, scale, size), (q.double() * s).float())


def test_zero_rows_and_groups_give_scale_zero_and_dequantize_to_zero():
    w = torch.randn(3, 8)
    w[0], w[2, :4] = 0.0, 0.0
    for granularity, g in (("channel", None), ("group", 4)):
        q, scale = reference().quantize(w, granularity, g)
        back = reference().dequantize(q, scale, g)
        assert not torch.isnan(scale).any() and float(scale.flatten()[0]) == 0.0
        assert bool((back[w == 0] == 0).all()) and bool((q[w == 0] == 0).all())


def test_a_group_size_that_does_not_divide_is_a_value_error_naming_both_numbers():
    with pytest.raises(ValueError, match=r"group_size 4 .*in_features 10"):
        reference().quantize(torch.randn(2, 10), "group", 4)
    with pytest.raises(ValueError):
        reference().quantize(torch.randn(2, 10), "group")


# -- the reference: the layer and the model ---------------------------------------------------------


def test_the_layer_holds_int8_buffers_about_a_quarter_of_the_float_bytes():
    linear = nn.Linear(256, 64)
    layer = reference().Int8Linear.from_linear(linear)
    assert list(layer.parameters()) == []
    state = layer.state_dict()
    assert state["weight"].dtype == torch.int8 and state["scale"].shape == (64, 1)
    ratio = sum(t.numel() * t.element_size() for t in state.values()) / sum(t.numel() * t.element_size() for t in linear.state_dict().values())
    assert 0.25 < ratio < 0.26  # (256 + 4 + 4) / (4 · 256 + 4)


def test_the_layer_matches_the_float_product_of_its_codes_for_any_leading_shape():
    linear = nn.Linear(24, 10)
    for g in (None, 6):
        layer = reference().Int8Linear.from_linear(linear, g)
        w_hat = reference().dequantize(layer.weight, layer.scale, g).double()
        for x in (torch.randn(24), torch.randn(2, 3, 24)):
            want = x.double() @ w_hat.T + linear.bias.detach().double()
            assert layer(x).shape == x.shape[:-1] + (10,)
            assert torch.allclose(layer(x).double(), want, atol=1e-5)


def test_the_fused_kernel_the_concept_names_computes_the_per_channel_product():
    linear = nn.Linear(40, 12, bias=False)
    layer = reference().Int8Linear.from_linear(linear)
    x = torch.randn(3, 40)
    fused = torch._weight_int8pack_mm(x, layer.weight, layer.scale.view(-1))
    assert torch.allclose(fused, layer(x), atol=1e-5)


def test_quantize_model_replaces_every_linear_but_the_skipped_on_a_copy():
    model = tiny_gpt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = reference().quantize_model(model)
    kinds = {name: type(m).__name__ for name, m in quantized.named_modules()}
    assert [n for n, k in kinds.items() if k == "Int8Linear"] == [f"blocks.{i}.{p}" for i in range(2) for p in grader("test_quant_linear").LINEARS]
    assert kinds["lm_head"] == "Linear" and kinds["tok_emb"] == "Embedding"
    assert all(isinstance(m, nn.Linear) for n, m in model.named_modules() if n.startswith("blocks.0.attn.qkv"))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not any(p.requires_grad for p in quantized.parameters())
    assert isinstance(reference().quantize_model(model, skip=()).lm_head, reference().Int8Linear)


# -- the graders' helpers --------------------------------------------------------------------------


def test_the_scale_diagnosis_names_each_classic_mistake():
    absmax = grader("test_quant_absmax")
    w = torch.randn(4, 8)
    w[0, 0] = -9.0  # a negative-dominant row
    for granularity, g in (("channel", None), ("group", 4)):
        mistakes = {}
        for values, why in absmax.scale_mistakes(w, granularity, g):
            mistakes.setdefault(why, values)  # the first candidate of each message
        amax = absmax.absmax_of(w.double(), granularity, g)
        assert torch.allclose(mistakes[absmax.LEVELS_128], amax / 128)
        assert not torch.allclose(mistakes[absmax.MAX_NOT_ABSMAX], amax / 127)
    _, want_scale = reference().quantize(w, "channel")
    for values, why in absmax.code_mistakes(w, want_scale, None):
        if why == absmax.TRUNCATED:
            assert bool((values.abs() <= (w.double() / want_scale.double()).abs()).all())


def test_near_ties_are_only_the_halves():
    absmax = grader("test_quant_absmax")
    w = torch.tensor([[127.0, 0.5, 1.49, 2.50001, 3.0]])
    assert absmax.near_tie(w, torch.ones(1, 1), None).tolist() == [[False, True, False, True, False]]


def test_the_float_copy_scan_sees_cached_weights_but_not_the_bias():
    linear_grader = grader("test_quant_linear")
    layer = reference().Int8Linear.from_linear(nn.Linear(1, 1))
    assert linear_grader.float_copies(layer, (1, 1)) == []
    layer._cache = torch.zeros(1, 1)
    assert linear_grader.float_copies(layer, (1, 1)) == ["_cache"]


# -- a crash in the learner's code ---------------------------------------------------------------
CRASHING_FORWARD = '''
class Int8Linear(Int8Linear):
    def forward(self, x):
        return x @ dequantize(self.weight, self.scale, self.group_size)  # not transposed
'''


@pytest.mark.slow
def test_a_crash_in_the_forward_names_the_learners_line():
    step = COURSE.step(LINEAR)
    with tempfile.TemporaryDirectory(prefix="mentor-quant-") as tmp:
        result = grade_file(COURSE, step, compose_submission(COURSE, step, Path(tmp), CRASHING_FORWARD), Path(tmp))
    crashed = [t for t in result.tests if t.kind == "exception"]
    assert result.status == "failed" and crashed, [(t.name, t.kind, t.message) for t in result.tests]
    assert any(t.where.rpartition(":")[0].endswith("quant.py") and "not transposed" in t.line for t in crashed)


# -- the reasoning checks -------------------------------------------------------------------------
def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def drawn(step_id: str, check_id: str, learners=8):
    c = check(step_id, check_id)
    return [(c, d, float(expected_answer(c, d))) for d in (draw(c, f"learner-{i}", step_id, 0) for i in range(learners))]


def _bytes_saved(O, I, g, sb):
    _, scale = reference().quantize(torch.zeros(O, I), "group", g)
    return 2 * O * I - (O * I + scale.numel() * sb)


def _outlier_step(k, s):
    w = torch.zeros(4, 64, dtype=torch.float64)
    w[1, 3] = k * s
    _, scale = reference().quantize(w, "tensor")
    return float(scale)


def _levels_used(k, m):
    sigma = 1.0
    w = torch.linspace(-m * sigma, m * sigma, 20001).view(1, -1)
    w = torch.cat([w, torch.tensor([[k * sigma]])], dim=1)
    q, _ = reference().quantize(w, "tensor")
    return len(set(q[0, :-1].tolist()))


def _layer_bytes(O, I, g):
    layer = reference().Int8Linear.from_linear(nn.Linear(I, O), g)
    return sum(t.numel() * t.element_size() for t in layer.state_dict().values())


def test_the_numeric_answers_follow_from_the_reference():
    worked = {
        (ABSMAX, "bytes-saved"): _bytes_saved,
        (ABSMAX, "outlier-step"): _outlier_step,
        (ABSMAX, "levels-used"): _levels_used,
        (ABSMAX, "rms-error"): lambda a: a / 127 / math.sqrt(12),
        (LINEAR, "layer-bytes"): _layer_bytes,
        (LINEAR, "ppl-delta"): lambda L, d: (math.exp(L + d) / math.exp(L) - 1) * 100,
    }
    for (step_id, check_id), work in worked.items():
        for c, d, expected in drawn(step_id, check_id):
            want = work(**{k: (int(v) if float(v).is_integer() else v) for k, v in d.params.items()})
            assert math.isclose(expected, want, rel_tol=c.answer.tolerance / 2), (check_id, d.params, expected, want)
            assert is_correct(c, repr(want), d), (check_id, d.params)


def test_the_classic_wrong_answers_are_rejected():
    for step_id in (ABSMAX, LINEAR):
        for c in COURSE.step(step_id).checks:
            for _, d, _ in drawn(step_id, c.id, learners=6) if c.params else []:
                for wrong in c.answer.wrong or []:
                    value = evaluate(wrong.formula, d.params) if wrong.formula else wrong.numeric
                    assert not is_correct(c, repr(value), d), (c.id, d.params, wrong.formula)
            if c.answer.choice:
                assert all(o.why for i, o in enumerate(c.options) if chr(ord("a") + i) != c.answer.choice)


def test_the_rubrics_accept_their_own_explanation_and_reject_a_vague_answer():
    groups = check(ABSMAX, "why-groups")
    assert is_correct(groups, groups.explain)
    assert is_correct(groups, "An outlier only sets the step for its own group, so the others keep a finer step; but each group needs a scale, more memory.")
    assert not is_correct(groups, "Groups are more accurate.")
    rows = check(LINEAR, "per-channel-vs-tensor")
    assert is_correct(rows, rows.explain)
    assert not is_correct(rows, "Per-channel is better.")
