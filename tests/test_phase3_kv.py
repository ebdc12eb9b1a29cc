"""Grader behaviours of p3.kvcache.* that the catalogue run (tests/test_graders.py) does not show: a
slow decode loop and a recomputing cache fail their budgets with the figures, and a crash in the
learner's cached forward names their line."""

from pathlib import Path

import pytest

from mentor.authoring import compose_submission, grade_file
from mentor.curriculum import load_course
from mentor.paths import content_root

COURSE = load_course(content_root())
STEP_IDS = {s.id for s in COURSE.steps}
pytestmark = pytest.mark.skipif("p3.kvcache.generate" not in STEP_IDS, reason="Phase 3 is not listed in the course")

RECOMPUTE = '''
@torch.no_grad()
def generate(model, prompt_ids, max_new_tokens):
    ids = prompt_ids
    for _ in range(max_new_tokens):
        logits, _ = model(ids)
        ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return ids
'''

CRASHING_ATTENTION = '''
class CausalSelfAttention(CausalSelfAttention):
    def forward(self, x, cache=None, layer=0):
        if cache is not None:
            k_all = cache.k[layer] @ x  # a shape mistake in the cached path
        return super().forward(x, cache, layer)
'''


def graded(step_id: str, appended: str, tmp_path: Path):
    step = COURSE.step(step_id)
    return grade_file(COURSE, step, compose_submission(COURSE, step, tmp_path, appended), tmp_path)


def test_a_recomputing_generate_fails_the_speed_budget_with_its_figures(tmp_path):
    result = graded("p3.kvcache.generate", RECOMPUTE, tmp_path)
    speed = next(t for t in result.tests if t.name == "test_decoding_is_faster_than_recomputing")
    assert speed.outcome == "failed" and "not enough faster than recomputing" in speed.message, speed
    assert "budget throughput_ratio" in speed.diff and "allowed at least 3" in speed.diff, speed.diff
    measured = [m for m in result.measurements if m["budget"] == "throughput_ratio"]
    assert measured and not measured[0]["ok"] and measured[0]["measured"] < 2, measured


def test_a_recomputing_cache_fails_the_decode_time_budget_with_its_figures(tmp_path):
    recompute = COURSE.content_root / "tests" / "known_wrong" / "p3.kvcache.cache" / "recompute_everything.py"
    result = graded("p3.kvcache.cache", recompute.read_text(), tmp_path)
    flat = next(t for t in result.tests if t.name == "test_decode_time_stays_flat")
    assert flat.outcome == "failed" and "time grows with the context" in flat.message, flat
    assert "budget latency_ratio" in flat.diff and "allowed at most 2.5" in flat.diff, flat.diff


def test_a_crash_in_the_cached_forward_names_the_learners_line(tmp_path):
    result = graded("p3.kvcache.cache", CRASHING_ATTENTION, tmp_path)
    crashed = [t for t in result.tests if t.kind == "exception"]
    assert crashed, [(t.name, t.kind, t.message) for t in result.tests]
    named = [t for t in crashed if t.where.rpartition(":")[0].endswith("kv_cache.py") and "cache.k[layer] @ x" in t.line]
    assert named, [(t.where, t.line) for t in crashed]
