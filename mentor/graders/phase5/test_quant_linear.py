"""Grader: an INT8 linear layer built from nn.Linear, and a GPT whose Linears are replaced by it.

Int8Linear.from_linear runs on seeded nn.Linear layers (with and without bias, per channel and per group,
1 x 1 up to 96 x 64, rows of different scale), its buffers checked for dtype, shape and bytes, its
forward compared on inputs of shape (in,), (1, in) and (B, T, in) with the float64 product of the
reference's codes. quantize_model runs on the course's GPT (mentor.lab.GPT, 2 layers, d_model 64, bytes
as tokens) trained in this process for a few seconds on the course's own text: which modules were
replaced (skip included), the original untouched, the logits against the reference's quantized model,
the validation loss against float32's, and one decode-shaped forward timed against the reference's.
When a value differs, the classic mistakes are worked out from the same layer (the float weight used,
the bias dropped or quantized, the scales left out, one scale per tensor) and the one that reproduces
the learner's output is named.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mentor.corpus import default_corpus
from mentor.grading.expect import Misconception, expect, expect_close
from mentor.lab import GPT, GPTConfig

# Bound before any learner code runs: the expected values never go through a patched name.
_equal, _linear = torch.equal, F.linear

# 2 layers, d_model 64, bytes as tokens: ~0.12M parameters, trained in ~2 s on one core.
CONFIG = dict(vocab_size=256, block_size=32, d_model=64, n_layers=2, n_heads=4)
TRAIN_STEPS, BATCH, LR = 80, 8, 1e-2
LINEARS = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")
# float32 forward against the float64 product of the same codes: only the float32 rounding of a sum of
# in_features terms, < 1e-5 of the sum of |x|·|w_hat|; any mistake below moves an output by a whole
# weight's worth of error (a scale, the bias, one step of every weight).
FORWARD_RTOL = 1e-5
# The learner's codes may differ from the reference's by one at near-ties (see p5.quant.absmax): a few of
# the GPT's 30k weights, each moving a logit by about scale · |x| ~ 1e-3.
LOGITS_ATOL = 2e-2
LOSS_SLACK = 0.01  # nats above float32 plus the reference's own change
BYTES_SLACK = 1.05  # the layer's state_dict at most 5% above the reference's

# -- messages -----------------------------------------------------------------------------------------
FLOAT_WEIGHT = (
    "the forward uses the float weight, not the int8 codes: the layer must compute with dequantize(weight, scale), "
    "and keep no float copy of linear.weight"
)
FLOAT_COPY = (
    "the layer keeps a float copy of the weight (the original, or the dequantized matrix cached after a forward): "
    "memory is then the float model's or more; dequantize inside forward into a temporary"
)
FAKE_QUANT = (
    "the weight is stored dequantized in float32 (quantize, then dequantize, then keep the floats): that is 4 bytes a "
    "weight; store the int8 codes and the scales, and dequantize inside forward"
)
NO_BIAS = "the bias is dropped: forward is x @ w_hat.T + bias, with the linear's bias copied in float32"
BIAS_QUANTIZED = "the bias is quantized: keep it in float32, a copy of linear.bias (it is small, and its error would add to every output)"
BIAS_FLOAT32 = "the bias buffer is float32 whatever the linear's dtype: a float32 copy of linear.bias (.float().clone())"
NO_SCALE = "the forward multiplies by the codes without their scales: w_hat = q · scale, then x @ w_hat.T + bias"
PER_TENSOR = (
    "from_linear quantizes per tensor: an Int8Linear is per channel (one scale per output row, shape "
    "(out_features, 1)) when group_size is None"
)
GROUP_IGNORED = (
    "from_linear ignores group_size: with group_size given, the scales are per group, shape "
    "(out_features, in_features // group_size)"
)
HAS_PARAMETERS = (
    "the layer registers Parameters: weight, scale and bias are buffers (register_buffer), so no optimizer or "
    "autograd sees them and state_dict still saves them"
)
LINEAR_CHANGED = "from_linear changed the nn.Linear it was given (its weight or bias): read it, build new tensors"
SHAPE_LOST = "the forward loses the input's leading shape: x of shape (..., in_features) gives (..., out_features)"
IN_PLACE = (
    "quantize_model changed the original model: work on copy.deepcopy(model) (copy.copy shares the submodules, "
    "so replacing a layer in the copy replaces it in the original too)"
)
NOT_DEEP = (
    "not every nn.Linear was replaced: the GPT's Linears sit inside blocks (blocks.0.attn.qkv, ...); walk "
    "named_modules(), which reaches every depth, not only the model's direct children"
)
SKIP_IGNORED = "a Linear named in skip was replaced: skip lists qualified names (\"lm_head\", \"blocks.1.mlp.fc\") to leave in float"
SKIP_SHORT_NAME = (
    "skip is matched against the wrong name: compare each Linear's qualified name as named_modules() gives it "
    "(\"blocks.1.mlp.fc\"), not its attribute name (\"fc\")"
)
OTHERS_REPLACED = "a module that is not an nn.Linear was replaced or changed: embeddings and LayerNorms stay as they were"
REQUIRES_GRAD = "the quantized model still has parameters that require grad: an inference copy ends with requires_grad_(False)"


# -- inputs -------------------------------------------------------------------------------------------


def gen(seed):
    """A private random generator: the expected values never depend on the global random state."""
    return torch.Generator().manual_seed(seed)


def make_linear(in_features, out_features, bias, seed):
    """An nn.Linear with seeded weights, rows of different scale (up to 30x apart) and a bias."""
    g = gen(seed)
    with torch.random.fork_rng():
        linear = nn.Linear(in_features, out_features, bias=bias)
    with torch.no_grad():
        rows = 10 ** (1.5 * torch.rand(out_features, 1, generator=g) - 0.75)
        linear.weight.copy_(0.1 * rows * torch.randn(out_features, in_features, generator=g))
        if bias:
            linear.bias.copy_(0.5 * torch.randn(out_features, generator=g))
    return linear


LAYERS = (  # (in, out, bias, group_size)
    (64, 96, True, None),
    (30, 7, False, None),
    (64, 32, True, 16),
    (12, 5, True, 3),
    (1, 1, True, None),
)


def inputs_for(in_features, seed):
    g = gen(seed)
    return (
        ("(in,)", torch.randn(in_features, generator=g)),
        ("(1, in)", torch.randn(1, in_features, generator=g)),
        ("(3, 5, in)", 2 * torch.randn(3, 5, in_features, generator=g)),
    )


def name_of(layer_spec):
    i, o, b, g = layer_spec
    return f"Linear({i}, {o}{', bias=False' if not b else ''})" + (f", group_size {g}" if g else "")


def tensor_bytes(module):
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def float_copies(module, shape):
    """Names of float tensors of the weight's shape (or its transpose) held on the module, its scales aside
    (per group of 1 they have the weight's shape)."""
    shapes = {tuple(shape), tuple(shape)[::-1]}
    held = list(module.named_parameters()) + list(module.named_buffers())
    held += [(name, v) for name, v in vars(module).items() if isinstance(v, torch.Tensor)]
    return sorted({name for name, t in held if name != "scale" and t.is_floating_point() and tuple(t.shape) in shapes})


# -- the layer ---------------------------------------------------------------------------------------------


def build(submission, linear, group_size, where):
    """The learner's Int8Linear.from_linear on `linear`; `linear` must stay unchanged."""
    weight, bias = linear.weight.detach().clone(), None if linear.bias is None else linear.bias.detach().clone()
    layer = submission.Int8Linear.from_linear(linear, group_size) if group_size else submission.Int8Linear.from_linear(linear)
    expect(layer is not None, "Int8Linear.from_linear returned None: did you forget `return`?")
    expect(isinstance(layer, nn.Module), "Int8Linear.from_linear returns an nn.Module (an Int8Linear)", f"{where}: got {type(layer).__name__}")
    unchanged = _equal(linear.weight.detach(), weight) and (bias is None or _equal(linear.bias.detach(), bias))
    expect(unchanged, LINEAR_CHANGED, where)
    return layer


def expect_buffers(layer, reference_layer, linear, group_size, where):
    """weight int8, scale float32 in the reference's shape, bias float32 or None; no Parameters, no float copy."""
    out_features, in_features = linear.weight.shape
    params = [n for n, _ in layer.named_parameters()]
    expect(not params, HAS_PARAMETERS, f"{where}: parameters {params}")
    buffers = dict(layer.named_buffers())
    tracked = [n for n, t in buffers.items() if t.requires_grad]
    expect(not tracked, "a buffer requires grad (a bias copied without .detach() carries the Linear's graph): store detached copies", f"{where}: {tracked}")
    weight = buffers.get("weight")
    if weight is not None and weight.is_floating_point():
        raise Misconception(FAKE_QUANT, f"{where}: weight buffer is {weight.dtype}")
    copies = float_copies(layer, (out_features, in_features))
    expect(not copies, FLOAT_COPY, f"{where}: float tensors of {out_features * in_features} elements: {copies}")
    expect(weight is not None, "the layer has no `weight` buffer: register the int8 codes with register_buffer('weight', q)", f"{where}: buffers {sorted(buffers)}")
    expect(weight.dtype == torch.int8, "the `weight` buffer is int8: one byte per weight", f"{where}: {weight.dtype}")
    expect(tuple(weight.shape) == (out_features, in_features), "the `weight` buffer has the linear's shape (out_features, in_features)", f"{where}: {tuple(weight.shape)}")
    scale, want_scale = buffers.get("scale"), reference_layer.scale
    expect(scale is not None, "the layer has no `scale` buffer: register the scales with register_buffer('scale', scale)", f"{where}: buffers {sorted(buffers)}")
    if tuple(scale.shape) != tuple(want_scale.shape):
        if scale.dim() == 0 or scale.numel() == 1 and out_features > 1:
            raise Misconception(PER_TENSOR, f"{where}: scale shape {tuple(scale.shape)}")
        if group_size and tuple(scale.shape) == (out_features, 1):
            raise Misconception(GROUP_IGNORED, f"{where}: scale shape {tuple(scale.shape)}, expected {tuple(want_scale.shape)}")
        raise Misconception("the `scale` buffer has the wrong shape", f"{where}: {tuple(scale.shape)}, expected {tuple(want_scale.shape)}")
    expect(scale.dtype == torch.float32, "the `scale` buffer is float32", f"{where}: {scale.dtype}")
    expect_close(scale, want_scale, f"the scales differ from the reference's absmax / 127 ({where})", rtol=1e-6, atol=0.0)
    if linear.bias is None:
        expect(buffers.get("bias") is None, "a linear without bias gives a layer without bias (bias None)", where)
    else:
        bias = buffers.get("bias")
        expect(bias is not None, NO_BIAS, f"{where}: no `bias` buffer")
        expect(bias.dtype == torch.float32, BIAS_FLOAT32, f"{where}: bias dtype {bias.dtype}, the linear's {linear.bias.dtype}")
        expect(_equal(bias, linear.bias.detach().float()), BIAS_QUANTIZED, f"{where}: the bias buffer differs from linear.bias")
        expect(bias.data_ptr() != linear.bias.data_ptr(), "the bias buffer shares memory with linear.bias: store a copy (.clone())", where)
    # One code apart only at near-ties of w / scale (see p5.quant.absmax): a handful of weights at most.
    off = (weight.long() - reference_layer.weight.long()).abs()
    expect(int(off.max()) <= 1 and int((off > 0).sum()) <= max(2, off.numel() // 1000), f"the int8 codes differ from round(w / scale) ({where})", f"{int((off > 0).sum())} of {off.numel()} codes differ, by up to {int(off.max())}")
    expect(tensor_bytes(layer) <= BYTES_SLACK * tensor_bytes(reference_layer), FLOAT_COPY, f"{where}: state_dict {tensor_bytes(layer)} bytes, reference {tensor_bytes(reference_layer)}")


def forward_mistakes(linear, reference, ref_layer, group_size, x):
    """[(output, why)]: the classic mistakes of the forward, in float64."""
    w = linear.weight.detach().double()
    b = None if linear.bias is None else linear.bias.detach().double()
    w_hat = reference.dequantize(ref_layer.weight, ref_layer.scale, group_size).double()
    x64 = x.double()
    mistakes = [(_linear(x64, w, b), FLOAT_WEIGHT), (_linear(x64, ref_layer.weight.double(), b), NO_SCALE)]
    if b is not None:
        q, s = reference.quantize(linear.bias.detach().view(1, -1), "tensor")
        mistakes += [(_linear(x64, w_hat), NO_BIAS), (_linear(x64, w_hat, reference.dequantize(q, s).view(-1).double()), BIAS_QUANTIZED)]
    tq, ts = reference.quantize(linear.weight.detach(), "tensor")
    mistakes.append((_linear(x64, reference.dequantize(tq, ts).double(), b), PER_TENSOR))
    if group_size:
        cq, cs = reference.quantize(linear.weight.detach(), "channel")
        mistakes.append((_linear(x64, reference.dequantize(cq, cs).double(), b), GROUP_IGNORED))
    return mistakes


def expect_forward(layer, linear, reference, ref_layer, group_size, x, where):
    """The learner's forward on x: shape, dtype, and value against the float64 product of the reference codes."""
    x_in = x.clone()
    with torch.no_grad():
        got = layer(x_in)
    expect(_equal(x_in, x), "the forward changed its input x in place: compute the output as a new tensor", where)
    expect(isinstance(got, torch.Tensor), "the forward returns a tensor", f"{where}: got {type(got).__name__}")
    want_shape = tuple(x.shape[:-1]) + (linear.out_features,)
    expect(tuple(got.shape) == want_shape, SHAPE_LOST, f"{where}: output shape {tuple(got.shape)}, expected {want_shape}")
    expect(got.dtype == torch.float32, "the forward returns float32 for a float32 input", f"{where}: got {got.dtype}")
    w_hat = reference.dequantize(ref_layer.weight, ref_layer.scale, group_size).double()
    b = None if linear.bias is None else linear.bias.detach().double()
    want = _linear(x.double(), w_hat, b)
    size = _linear(x.double().abs(), w_hat.abs(), None if b is None else b.abs())
    err = (got.double() - want).abs()
    if bool((err <= FORWARD_RTOL * size + 1e-6).all()):
        return
    for values, why in forward_mistakes(linear, reference, ref_layer, group_size, x):
        if bool(((got.double() - values).abs() <= 1e-4 * (size + 1)).all()):
            raise Misconception(why, f"{where}: largest difference from the expected output {float(err.max()):.4g}")
    raise Misconception(f"the forward differs from x @ dequantize(weight, scale).T + bias ({where})", f"largest difference {float(err.max()):.4g}, at a typical output size of {float(size.mean()):.4g}")


@pytest.fixture(autouse=True)
def one_thread():
    """Every tensor here is small: one thread is the fastest setting, and the same on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_layer_from_linear(submission, reference):
    """from_linear stores int8 codes, float32 scales and a float32 bias as buffers (from float32 and bfloat16 Linears),
    and leaves the Linear unchanged"""
    for k, spec in enumerate(LAYERS):
        in_features, out_features, bias, group_size = spec
        linear = make_linear(in_features, out_features, bias, seed=k)
        ref_layer = reference.Int8Linear.from_linear(linear, group_size)
        layer = build(submission, linear, group_size, name_of(spec))
        expect_buffers(layer, ref_layer, linear, group_size, name_of(spec))
    linear = make_linear(48, 16, True, seed=9).to(torch.bfloat16)  # a bfloat16 checkpoint: scales and bias float32
    ref_layer = reference.Int8Linear.from_linear(linear)
    where = "bfloat16 Linear(48, 16)"
    expect_buffers(build(submission, linear, None, where), ref_layer, linear, None, where)


def test_forward_matches(submission, reference):
    """the forward is x @ dequantize(weight, scale).T + bias for inputs (in,), (1, in), (3, 5, in), twice"""
    for k, spec in enumerate(LAYERS):
        in_features, out_features, bias, group_size = spec
        linear = make_linear(in_features, out_features, bias, seed=k)
        ref_layer = reference.Int8Linear.from_linear(linear, group_size)
        layer = build(submission, linear, group_size, name_of(spec))
        for shape, x in inputs_for(in_features, seed=100 + k):
            for call in ("first", "second"):
                expect_forward(layer, linear, reference, ref_layer, group_size, x, f"{name_of(spec)}, x of shape {shape}, {call} call")
        copies = float_copies(layer, (out_features, in_features))
        expect(not copies, FLOAT_COPY, f"{name_of(spec)} after a forward: float tensors of {out_features * in_features} elements: {copies}")


# -- the model ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    """The course's GPT trained for TRAIN_STEPS steps on bytes of the course's text; a held-out batch."""
    data = torch.tensor(list(default_corpus(40_000).encode("utf-8")), dtype=torch.long)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    T = CONFIG["block_size"]
    g = gen(0)

    def batch(source, size):
        starts = torch.randint(0, len(source) - T - 1, (size,), generator=g)
        return torch.stack([source[i : i + T] for i in starts]), torch.stack([source[i + 1 : i + T + 1] for i in starts])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GPT(GPTConfig(**CONFIG))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    for _ in range(TRAIN_STEPS):
        x, y = batch(train, BATCH)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    model.eval()
    return model, batch(val, 16)


def linear_names(model):
    return {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def call_quantize_model(submission, model, where, **kwargs):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names, types = linear_names(model), {n: type(m) for n, m in model.named_modules()}
    quantized = submission.quantize_model(model, **kwargs)
    expect(quantized is not None, "quantize_model returned None: did you forget `return` (of the copy)?")
    expect(isinstance(quantized, nn.Module), "quantize_model returns the quantized copy, an nn.Module", f"{where}: got {type(quantized).__name__}")
    after = {n: type(m) for n, m in model.named_modules()}
    same_weights = before.keys() == model.state_dict().keys() and all(_equal(v, model.state_dict()[k]) for k, v in before.items())
    expect(quantized is not model and after == types and linear_names(model) == names and same_weights, IN_PLACE, where)
    return quantized


def expect_replaced(submission, model, quantized, skip, where):
    """Exactly the Linears not in skip became Int8Linear; every other module kept its type and its values."""
    expected = {n for n in linear_names(model) if n not in skip}
    got_modules = dict(quantized.named_modules())
    replaced = {n for n, m in got_modules.items() if isinstance(m, submission.Int8Linear)}
    missing, extra = sorted(expected - replaced), sorted(replaced - expected)
    skipped_but_replaced = [n for n in extra if n in skip]
    if skipped_but_replaced:
        short = any("." in n for n in skipped_but_replaced)
        raise Misconception(SKIP_SHORT_NAME if short else SKIP_IGNORED, f"{where}: replaced although in skip: {skipped_but_replaced}")
    expect(not extra, OTHERS_REPLACED, f"{where}: replaced but not Linears: {extra}")
    expect(not missing, NOT_DEEP, f"{where}: still nn.Linear (or missing): {missing[:6]}")
    originals = dict(model.named_modules())
    for name, module in got_modules.items():
        if name in expected or name not in originals or any(name.startswith(e + ".") for e in expected):
            continue
        expect(type(module) is type(originals[name]), OTHERS_REPLACED, f"{where}: {name or 'the model'} is {type(module).__name__}, was {type(originals[name]).__name__}")
    original_params = dict(model.named_parameters())
    for name, p in quantized.named_parameters():
        expect(not p.requires_grad, REQUIRES_GRAD, f"{where}: {name} requires grad")
        expect(name not in original_params or _equal(p, original_params[name]), OTHERS_REPLACED, f"{where}: {name} changed")


def test_every_linear_replaced(submission, reference, trained):
    """quantize_model returns a copy with exactly the Linears not in skip replaced; the original is untouched"""
    model, _ = trained
    for skip in (("lm_head",), (), ("lm_head", "blocks.1.mlp.fc")):
        where = f"quantize_model(gpt, skip={skip})"
        quantized = call_quantize_model(submission, model, where, skip=skip)
        expect_replaced(submission, model, quantized, skip, where)
    quantized = call_quantize_model(submission, model, "quantize_model(gpt)")
    expect_replaced(submission, model, quantized, ("lm_head",), "quantize_model(gpt), skip left at its default")


def test_logits_and_loss(submission, reference, trained):
    """the quantized GPT's logits match the reference's quantized GPT, and its validation loss stays close to float32's"""
    model, (x, y) = trained
    with torch.no_grad():
        _, loss_fp = model(x, y)
        for group_size, skip in ((None, ("lm_head",)), (None, ()), (16, ())):
            where = f"GPT, group_size {group_size}, skip {skip}"
            ref_q = reference.quantize_model(model, group_size=group_size, skip=skip)
            want_logits, want_loss = ref_q(x, y)
            got_q = call_quantize_model(submission, model, where, group_size=group_size, skip=skip) if group_size else call_quantize_model(submission, model, where, skip=skip)
            got_logits, got_loss = got_q(x, y)
            expect_close(got_logits, want_logits, f"the quantized GPT's logits differ from the reference's quantized GPT ({where})", rtol=1e-3, atol=LOGITS_ATOL)
            budget = float(loss_fp) + max(float(want_loss) - float(loss_fp), 0.0) + LOSS_SLACK
            expect(
                float(got_loss) <= budget,
                "the quantized model's validation loss is too far above float32's: INT8 per channel should change it by "
                "about as much as the reference's does",
                f"{where}: float32 {float(loss_fp):.5f}, reference INT8 {float(want_loss):.5f}, yours {float(got_loss):.5f}, "
                f"allowed {budget:.5f}",
            )


def test_decode_step_speed(submission, reference, trained, budget):
    """one decode-shaped forward of the quantized GPT (batch 1, one token) within the budget of the reference's time"""
    model, (x, _) = trained
    idx = x[:1, :1]
    ref_q = reference.quantize_model(model)
    got_q = call_quantize_model(submission, model, "quantize_model(gpt)")

    def run(m):
        with torch.no_grad():
            m(idx)

    budget.latency(
        lambda: run(got_q),
        lambda: run(ref_q),
        why="one forward of the quantized GPT is too slow: dequantize each weight with whole-tensor operations, once per "
        "forward (no Python loop over rows or groups)",
    )
