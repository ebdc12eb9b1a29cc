"""Phase 4, the corpus on disk: the reference against values worked out by hand, the reasoning checks
against what the reference does, and the graders against wrong files that are not in the catalogue."""

import hashlib
import importlib.util
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mentor.authoring import compose_submission, grade_file
from mentor.checks import expected_answer, is_correct
from mentor.curriculum import load_course
from mentor.draws import Draw
from mentor.paths import content_root

COURSE = load_course(content_root())
SHARDS, BATCHES = "p4.data.shards", "p4.data.batches"


def _load_reference():
    spec = importlib.util.spec_from_file_location("p4_data_reference", content_root() / "solutions" / "phase4" / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


data = _load_reference()


def check(step_id: str, check_id: str):
    return next(c for c in COURSE.step(step_id).checks if c.id == check_id)


def draws(c):
    """Every combination of a check's params, as the Draw a learner could get."""
    names = sorted(c.params)
    for values in itertools.product(*(c.params[n].values() for n in names)):
        yield Draw("test", "", c.id, 0, dict(zip(names, values)))


# -- the reference, by hand -------------------------------------------------------------------------
def test_the_split_of_a_document_is_its_blake2b_number_against_the_fraction():
    digest = hashlib.blake2b(b"hello world", digest_size=8).digest()
    number = sum(b << (8 * i) for i, b in enumerate(digest)) / 2**64  # little-endian, byte by byte
    assert data.split_of("hello world", number + 1e-9) == "val"
    assert data.split_of("hello world", number - 1e-9) == "train"
    assert data.split_of("", 0.0) == "train" and data.split_of("", 1.0) == "val"


def test_two_documents_fill_shards_across_their_boundary(tmp_path):
    meta = data.write_shards(["ab", "cde"], lambda s: [ord(c) - 97 for c in s], tmp_path, 6, shard_tokens=4, val_fraction=0.0, eot=5)
    # train tokens: a b EOT c | d e EOT  -> [0, 1, 5, 2] and [3, 4, 5]
    assert np.fromfile(tmp_path / "train_00000.bin", dtype="<u2").tolist() == [0, 1, 5, 2]
    assert np.fromfile(tmp_path / "train_00001.bin", dtype="<u2").tolist() == [3, 4, 5]
    assert (tmp_path / "train_00000.bin").read_bytes() == bytes([0, 0, 1, 0, 5, 0, 2, 0])  # little-endian uint16
    assert meta == json.loads((tmp_path / "meta.json").read_text())
    assert meta["splits"] == {
        "train": {"documents": 2, "tokens": 7, "shards": [{"file": "train_00000.bin", "tokens": 4}, {"file": "train_00001.bin", "tokens": 3}]},
        "val": {"documents": 0, "tokens": 0, "shards": []},
    }
    assert sorted(p.name for p in tmp_path.glob("*.bin")) == ["train_00000.bin", "train_00001.bin"]


def test_a_window_of_the_reference_is_one_shards_tokens_shifted_by_one(tmp_path):
    data.write_shards(["abcdefgh", "xyz"], lambda s: [ord(c) - 97 for c in s], tmp_path, 26, shard_tokens=6, val_fraction=0.0)
    dataset = data.TokenDataset(tmp_path, "train")
    assert len(dataset) == 11 and [len(s) for s in dataset.shards] == [6, 5]
    x, y = dataset.get_batch(200, 4, torch.Generator().manual_seed(0))
    shards = [list(range(6)), [6, 7, 23, 24, 25]]
    windows = {tuple(s[i : i + 5]) for s in shards for i in range(len(s) - 4)}
    rows = {tuple(xr + yr[-1:]) for xr, yr in zip(x.tolist(), y.tolist())}
    assert rows == windows  # every one of the 3 windows drawn, none across the shard boundary


# -- the reasoning checks against what the reference does ---------------------------------------------
def test_the_last_shard_answer_is_the_size_of_the_last_file(tmp_path):
    c = check(SHARDS, "shard-count")
    for draw in draws(c):
        M, S = int(draw.params["M"]), int(draw.params["S"])
        meta = data.write_shards([""], lambda s, n=M: np.zeros(n, dtype=np.int64), tmp_path / f"{M}-{S}", 2, shard_tokens=S, val_fraction=0.0)
        last = meta["splits"]["train"]["shards"][-1]  # M and S in tokens instead of millions: bytes instead of MB
        assert expected_answer(c, draw) == (tmp_path / f"{M}-{S}" / last["file"]).stat().st_size
        assert not is_correct(c, str(M % S), draw)  # tokens, not bytes


def test_the_wrapped_id_is_what_astype_uint16_gives():
    c = check(SHARDS, "wrapped-id")
    for draw in draws(c):
        n = int(draw.params["n"])
        assert expected_answer(c, draw) == int(np.array([n]).astype(np.uint16)[0])


def test_the_start_count_is_the_number_of_distinct_windows_the_reference_draws(tmp_path):
    c = check(BATCHES, "start-count")
    for draw in list(draws(c))[::9]:
        lengths, T = [int(draw.params[k]) for k in ("a", "b", "c")], int(draw.params["T"])
        folder = tmp_path / "-".join(map(str, [*lengths, T]))
        folder.mkdir()
        for k, n in enumerate(lengths):  # token = 2000·shard + position: a window's first token names its start
            (2000 * k + np.arange(n)).astype("<u2").tofile(folder / f"train_{k:05d}.bin")
        shards = [{"file": f"train_{k:05d}.bin", "tokens": n} for k, n in enumerate(lengths)]
        meta = {"dtype": "uint16", "vocab_size": 6000, "eot": None, "shard_tokens": max(lengths),
                "splits": {"train": {"documents": 3, "tokens": sum(lengths), "shards": shards}}}  # fmt: skip
        (folder / "meta.json").write_text(json.dumps(meta))
        dataset = data.TokenDataset(folder, "train")
        seen = set()
        for seed in range(60):
            seen.update(dataset.get_batch(256, T, torch.Generator().manual_seed(seed))[0][:, 0].tolist())
        valid = {2000 * k + s for k, n in enumerate(lengths) for s in range(max(0, n - T))}
        assert seen <= valid and len(seen) > 0.9 * len(valid)
        assert expected_answer(c, draw) == len(valid)
        assert not is_correct(c, str(sum(max(0, n - T + 1) for n in lengths)), draw)  # windows of T, not T + 1


def test_the_window_bytes_are_the_chunk_x_and_y_view():
    c = check(BATCHES, "window-tokens")
    for draw in draws(c):
        B, T = int(draw.params["B"]), int(draw.params["T"])
        chunk = torch.zeros(B, T + 1, dtype=torch.int64)
        x, y = chunk[:, :-1], chunk[:, 1:]
        assert x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr() == chunk.untyped_storage().data_ptr()
        assert expected_answer(c, draw) == chunk.untyped_storage().nbytes()


# -- the graders against wrong files nobody listed ----------------------------------------------------
SWAPPED_SPLITS_ON_DISK = '''
_reference_flush = _ShardWriter.flush


def _flush_under_the_other_name(self):  # writes each split's shards under the other split's name
    self.split = "val" if self.split == "train" else "train"
    try:
        _reference_flush(self)
    finally:
        self.split = "val" if self.split == "train" else "train"


_ShardWriter.flush = _flush_under_the_other_name
'''

SECOND_SHARD_ONLY_FOR_TWO = '''
class TokenDataset(TokenDataset):
    def get_batch(self, batch_size, block_size, generator, device="cpu"):
        shards = self.shards
        self.shards = shards[:2]  # only the first two shards are ever read
        try:
            return super().get_batch(batch_size, block_size, generator, device)
        finally:
            self.shards = shards
'''


@pytest.mark.parametrize(
    "step_id,code,test_name",
    [
        (SHARDS, SWAPPED_SPLITS_ON_DISK, "test_every_token_is_written_in_order_in_full_shards[array]"),
        (BATCHES, SECOND_SHARD_ONLY_FOR_TWO, "test_every_start_of_every_shard_is_equally_likely"),
    ],
    ids=["split-files-swapped", "shards-past-two-ignored"],
)
def test_a_wrong_file_outside_the_catalogue_fails_the_test_that_covers_it(step_id, code, test_name):
    step = COURSE.step(step_id)
    with tempfile.TemporaryDirectory(prefix="mentor-data-") as tmp:
        result = grade_file(COURSE, step, compose_submission(COURSE, step, Path(tmp), code), Path(tmp))
    failed = {t.name: t for t in result.tests if t.outcome != "passed"}
    assert result.status == "failed" and test_name in failed, (result.status, result.message, list(failed))
