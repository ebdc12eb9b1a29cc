"""mentor.lab.GPT, the given model of Phases 4–5, is the Phase 2 reference GPT: same parameter names,
same logits from the same weights, the same count as the Phase 2 formula."""

import importlib
import sys

import pytest
import torch

from mentor.lab import GPT, GPTConfig
from mentor.paths import content_root

SIZES = dict(vocab_size=97, block_size=24, d_model=48, n_layers=2, n_heads=4)


@pytest.fixture(scope="module")
def phase2():
    folder = str(content_root() / "solutions" / "phase2")
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module("gpt")
    finally:
        sys.path.remove(folder)
        for name in ("gpt", "block", "attention"):
            sys.modules.pop(name, None)


def test_the_given_gpt_loads_the_phase2_weights_and_gives_its_logits(phase2):
    torch.manual_seed(0)
    theirs = phase2.GPT(phase2.GPTConfig(**SIZES)).eval()
    ours = GPT(GPTConfig(**SIZES)).eval()
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    idx = torch.randint(0, SIZES["vocab_size"], (3, 17))
    (a, loss_a), (b, loss_b) = ours(idx, idx), theirs(idx, idx)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss_a, loss_b)
    assert ours.num_params() == phase2.count_parameters(phase2.GPTConfig(**SIZES))


def test_positions_marked_ignore_add_nothing_to_the_loss():
    torch.manual_seed(1)
    model = GPT(GPTConfig(**SIZES))
    idx = torch.randint(0, SIZES["vocab_size"], (2, 10))
    targets = idx.clone()
    targets[:, :4] = -100
    _, masked = model(idx, targets)
    logits, _ = model(idx)
    expected = torch.nn.functional.cross_entropy(logits[:, 4:].reshape(-1, SIZES["vocab_size"]), idx[:, 4:].reshape(-1))
    torch.testing.assert_close(masked, expected)


def test_a_sequence_longer_than_the_context_is_refused_by_name():
    model = GPT(GPTConfig(**SIZES))
    with pytest.raises(ValueError, match="block_size=24"):
        model(torch.zeros(1, 25, dtype=torch.long))
