"""Lesson p5.infer outside a grader run: the cached GPT the lesson gives (mentor.lab.decoding), and the
premises the two graders rest on (their own filtered distribution, the designed row's margins, the
no-cache decoding loop)."""

import importlib.util

import pytest
import torch

from mentor.lab.decoding import GPT, GPTConfig
from mentor.lab.gpt import GPT as PlainGPT
from mentor.paths import content_root

ROOT = content_root()
SMALL = GPTConfig(vocab_size=37, block_size=24, d_model=32, n_layers=2, n_heads=4)


def load(relative, name):
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def solution():
    return load("solutions/phase5/inference.py", "p5_inference_solution")


@pytest.fixture(scope="module")
def sample_grader():
    return load("mentor/graders/phase5/test_infer_sample.py", "p5_sample_grader")


def cached_model(seed=0):
    torch.manual_seed(seed)
    return GPT(SMALL).double().eval()


def test_cached_forward_equals_the_full_forward_for_prefill_single_tokens_and_chunks():
    model = cached_model()
    idx = torch.randint(0, SMALL.vocab_size, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache(2, 20)
        pieces = [model(idx[:, :7], cache=cache)[0], model(idx[:, 7:8], cache=cache)[0], model(idx[:, 8:13], cache=cache)[0]]
        pieces += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(13, 20)]
    assert cache.length == 20
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-10, atol=1e-12)


def test_weights_of_the_plain_course_gpt_load_unchanged():
    plain = PlainGPT(SMALL).double().eval()
    model = GPT(SMALL).double().eval()
    model.load_state_dict(plain.state_dict())  # strict: the same names and shapes
    idx = torch.randint(0, SMALL.vocab_size, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], plain(idx)[0], rtol=1e-10, atol=1e-12)


def test_new_cache_takes_the_weights_dtype_and_refuses_to_overflow():
    model = cached_model().float()
    cache = model.new_cache(3, 10)
    assert cache.k.shape == (SMALL.n_layers, 3, SMALL.n_heads, 10, SMALL.d_model // SMALL.n_heads)
    assert cache.k.dtype == torch.float32 and cache.nbytes() == 2 * SMALL.n_layers * 3 * 10 * SMALL.d_model * 4
    with torch.no_grad(), pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(3, 11, dtype=torch.long), cache=cache)


def test_positions_past_block_size_are_refused():
    model = cached_model()
    cache = model.new_cache(1, SMALL.block_size + 1)
    with torch.no_grad():
        model(torch.zeros(1, SMALL.block_size, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="block_size"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_the_graders_distribution_is_what_the_reference_draws_from(solution, sample_grader):
    logits = sample_grader.designed_logits(40000)
    for T, k, p in ((1.0, None, None), (0.5, None, 0.6), (2.0, 5, 0.9), (1.0, 3, 0.8), (1.0, 2, None)):
        draws = solution.sample_next(logits, T, k, p, torch.Generator().manual_seed(3))
        counts = torch.bincount(draws, minlength=9).double()
        right = sample_grader.filtered(logits[:1], T, k, p)[0]
        assert sample_grader.chi_square_fits(counts, right), (T, k, p)
        assert set(torch.nonzero(counts).flatten().tolist()) == set(torch.nonzero(right).flatten().tolist())


def test_the_designed_row_keeps_every_tested_top_p_off_a_cut(sample_grader):
    row = sample_grader.designed_logits(1)
    for T in (0.5, 1.0, 2.0):
        for p in (0.1, 0.6, 0.9):
            assert sample_grader.margin_of(row, T, None, p) > 0.005


def test_the_reference_generate_equals_decoding_without_a_cache(solution):
    model = cached_model(4)
    prompt = torch.randint(0, SMALL.vocab_size, (1, 5), generator=torch.Generator().manual_seed(4))
    ids, stats = solution.generate(model, prompt, 12, temperature=0)
    seq = prompt
    with torch.no_grad():
        for _ in range(12):
            seq = torch.cat([seq, model(seq)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(ids, seq)
    assert len(stats["decode_s"]) == 11 and stats["tokens_per_s"] > 0 and stats["ttft_s"] >= stats["prefill_s"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("step_id", ["p5.infer.sample", "p5.infer.generate"])
def test_the_reference_passes_its_grader(step_id, tmp_path):
    from mentor.authoring import grade_file
    from mentor.curriculum import load_course

    course = load_course(ROOT)
    step = course.step(step_id)
    result = grade_file(course, step, ROOT / step.solution, tmp_path)
    assert result.status == "passed", [(t.name, t.message) for t in result.tests if t.outcome != "passed"]
