"""What graders of PyTorch steps share: the learner's earlier files, weights copied from the
reference, and checking that the components a step builds on still agree with the reference."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
import torch.nn as nn

from mentor.grading.expect import expect

# float64 throughout: agreement to ~1e-9 says "the same computation", not "close enough in float32"
RTOL, ATOL = 1e-9, 1e-12


def learner_module(submission, name: str):
    """The learner's `name`.py beside their exercise: the module their `from attention import ...` reads."""
    path = Path(submission.__file__).with_name(f"{name}.py")
    expect(
        path.is_file(),
        f"{Path(submission.__file__).name} builds on your {name}.py from the earlier steps, but there is none "
        f"beside it ({path})",
    )
    module = sys.modules.get(name)
    if module is not None and Path(getattr(module, "__file__", "") or "").resolve() == path.resolve():
        return module
    spec = importlib.util.spec_from_file_location(f"learner_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_weights(module, reference_module) -> None:
    """Load the reference's parameters into `module`, made float64 first (so they arrive unrounded) and put in
    eval mode (no dropout). Buffers of your own, such as a cached mask, may stay; RuntimeError names a mismatch."""
    module.double().eval()
    result = module.load_state_dict(reference_module.state_dict(), strict=False)  # a wrong shape still raises
    extra = [k for k in result.missing_keys if k in dict(module.named_parameters(remove_duplicate=False))]
    if extra or result.unexpected_keys:
        raise RuntimeError(
            f"parameters missing from yours: {result.unexpected_keys}; parameters only yours has: {extra}"
        )


def randomized(module, seed: int, scale: float = 0.3):
    """The module in float64 with every parameter random, LayerNorm gains and all biases included."""
    torch.manual_seed(seed)
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn_like(p))
    return module


def expect_earlier_step_agrees(name: str, step: str, run, meanwhile: str, where: str) -> None:
    """`run()` gives (yours, the reference's) output of a component from an earlier `step`; they must agree.

    Any failure of the learner's component reads the same way: fix that step first.
    """
    try:
        got, want = run()
        same = isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got, want, RTOL, ATOL)
        detail = "different values"
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of an earlier step reads the same way
        same, detail = False, f"it raised {type(e).__name__}: {e}"
    expect(
        same,
        f"your {name} from {step} disagrees with the reference: fix it first (mentor check {step}). {meanwhile}",
        f"{where}: {detail}",
    )


def expect_components_agree(components, x: torch.Tensor, meanwhile: str) -> None:
    """Each (name, step, make, yours, reference's) in order, earliest first: `make(module)` gives a tensor,
    or a layer that both sides get with the same random weights and run on `x`."""

    def outputs(make, mine, ref):
        want = make(ref)  # the reference runs first
        if not isinstance(want, nn.Module):
            return make(mine), want
        want = randomized(want, seed=2)
        layer = make(mine)
        copy_weights(layer, want)
        expected = want(x)
        return layer(x), expected

    for name, step, make, mine, ref in components:
        expect_earlier_step_agrees(name, step, lambda: outputs(make, mine, ref), meanwhile, f"{name} on a small input")
