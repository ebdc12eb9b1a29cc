"""Grader: TokenDataset reads a split through np.memmap and draws windows uniformly, within one shard.

The datasets are written here with NumPy alone (not with anyone's write_shards): each token says
where it is, so a window tells which shard and start it came from. Uniformity is a chi-square test over
every start position, with a bound six standard deviations above its mean; batches are drawn from seeded
generators, so every verdict is the same on every run.
"""

import json
import math
import os
import random

import numpy as np
import torch

from mentor.grading.budget import peak_bytes
from mentor.grading.expect import Misconception, expect, expect_equal

_memmap_type, _tofile = np.memmap, np.ndarray.tofile  # bound before learner code runs
_get_rng_state, _np_get_state, _py_getstate = torch.get_rng_state, np.random.get_state, random.getstate


def write_dataset(folder, shard_lengths, split="train", base=1000, stride=1000) -> list[np.ndarray]:
    """Shards whose tokens are base + stride·shard + position: a token names its shard and its place."""
    os.makedirs(folder, exist_ok=True)
    shards, entries = [], []
    for k, n in enumerate(shard_lengths):
        tokens = (base + stride * k + np.arange(n)).astype("<u2")
        name = f"{split}_{k:05d}.bin"
        _tofile(tokens, os.path.join(folder, name))
        shards.append(tokens)
        entries.append({"file": name, "tokens": int(n)})
    meta = {
        "dtype": "uint16", "vocab_size": 65536, "eot": None, "shard_tokens": max(shard_lengths),
        "splits": {split: {"documents": len(shard_lengths), "tokens": int(sum(shard_lengths)), "shards": entries},
                   ("val" if split == "train" else "train"): {"documents": 0, "tokens": 0, "shards": []}},
    }  # fmt: skip
    with open(os.path.join(folder, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return shards


def add_split(folder, split, shard_lengths, base, stride=1000) -> None:
    """Shards of another split beside those write_dataset wrote, added to its meta.json."""
    with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    entries = []
    for k, n in enumerate(shard_lengths):
        name = f"{split}_{k:05d}.bin"
        _tofile((base + stride * k + np.arange(n)).astype("<u2"), os.path.join(folder, name))
        entries.append({"file": name, "tokens": int(n)})
    meta["splits"][split] = {"documents": len(shard_lengths), "tokens": int(sum(shard_lengths)), "shards": entries}
    with open(os.path.join(folder, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f)


def where(window: list[int], stride=1000, base=1000) -> tuple[int, int]:
    """(shard, start) of a window of write_dataset's tokens."""
    return (window[0] - base) // stride, (window[0] - base) % stride


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(dataset, batch_size, block_size, seed=0, device="cpu"):
    x, y = dataset.get_batch(batch_size, block_size, generator(seed), device)
    return x, y


def test_a_batch_is_int64_windows_with_targets_shifted_by_one(submission, tmp_path):
    """x and y are (B, T) int64; each row of x is consecutive tokens of one shard and y the same window moved by one"""
    lengths = [50, 20, 33]
    shards = write_dataset(tmp_path, lengths)
    dataset = submission.TokenDataset(tmp_path, "train")
    for B, T in [(16, 8), (1, 1), (3, 19), (5, 32)]:
        x, y = batch(dataset, B, T, seed=B * T)
        for name, t in (("x", x), ("y", y)):
            expect(isinstance(t, torch.Tensor), f"get_batch returns torch tensors ({name})", f"{name} is {type(t).__name__}")
            expect(t.dtype == torch.int64, "x and y are int64 (what nn.Embedding and cross_entropy take)", f"{name}.dtype is {t.dtype}")
            expect(tuple(t.shape) == (B, T), f"x and y are (batch_size, block_size) = {(B, T)}", f"{name}.shape is {tuple(t.shape)}")
        for row in range(B):
            xs, ys = x[row].tolist(), y[row].tolist()
            shard, start = where(xs)
            expect(0 <= shard < len(shards) and 0 <= start < lengths[shard], "x holds tokens of the split's shards", f"row {row}: {xs[:6]}")
            window = shards[shard][start : start + T + 1].tolist()
            if xs != window[:T]:
                raise Misconception(
                    "a window runs past the end of its shard into another one: a window lies within one shard"
                    if len(window) < T + 1 or start + T > lengths[shard] else
                    "the tokens of a row of x are not consecutive tokens of one shard",
                    f"B={B}, T={T}, row {row}: x starts at shard {shard} position {start} (of {lengths[shard]}): {xs[:8]}",
                )  # fmt: skip
            if len(window) < T + 1:
                raise Misconception(
                    "the window's last target is past the end of its shard: a shard of n tokens has n - block_size starts, not n - block_size + 1",
                    f"B={B}, T={T}: x starts at position {start} of a shard of {lengths[shard]} tokens, so y's last token is missing",
                )  # fmt: skip
            if ys != window[1:]:
                if ys == xs:
                    why = "y equals x: the targets are the same window moved one token on"
                elif ys[:-1] == xs[:-1] or ys == window[2 : T + 2]:
                    why = "y is shifted by the wrong amount: y[:, t] is the token right after x[:, t]"
                else:
                    why = "y is not the window of x moved by one token"
                raise Misconception(why, f"B={B}, T={T}, row {row}: x {xs[:6]}…, y {ys[:6]}…, expected y {window[1:7]}…")


def test_every_start_of_every_shard_is_equally_likely(submission, tmp_path):
    """start positions are uniform over all of them, whatever the shards' lengths; a too-short shard is never used"""
    lengths, T = [40, 9, 25, 8, 12], 8  # starts: 32 + 1 + 17 + 0 + 4 = 54
    write_dataset(tmp_path, lengths)
    dataset = submission.TokenDataset(tmp_path, "train")
    starts = [(k, s) for k, n in enumerate(lengths) for s in range(max(0, n - T))]
    counts = dict.fromkeys(starts, 0)
    unexpected = {}
    draws = 0
    for seed in range(300):
        x, _ = batch(dataset, 64, T, seed=10_000 + seed)
        for row in x.tolist():
            key = where(row)
            draws += 1
            if key in counts:
                counts[key] += 1
            else:
                unexpected[key] = unexpected.get(key, 0) + 1
    if unexpected:
        (shard, start), n = next(iter(unexpected.items()))
        why = (f"windows are drawn from shard {shard} of {lengths[shard]} tokens, which cannot hold block_size + 1 = {T + 1}"
               if lengths[shard] <= T else
               f"a window starts at position {start} of a shard of {lengths[shard]} tokens: the last start is n - block_size - 1")  # fmt: skip
        raise Misconception(why, f"{sum(unexpected.values())} of {draws} windows at starts that do not fit, e.g. shard {shard} position {start} ({n}x)")
    mean = draws / len(starts)
    chi2 = sum((c - mean) ** 2 / mean for c in counts.values())
    dof = len(starts) - 1
    bound = dof + 6 * math.sqrt(2 * dof)
    if chi2 > bound:
        per_shard = {k: sum(c for (s, _), c in counts.items() if s == k) / draws for k in range(len(lengths))}
        share = {k: max(0, n - T) / len(starts) for k, n in enumerate(lengths)}
        last = [counts[(k, n - T - 1)] for k, n in enumerate(lengths) if n > T]
        if sum(last) < 0.2 * mean * len(last):
            why = "the last start of each shard (the window that ends on its last token) is never or rarely drawn"
        elif per_shard[1] > 3 * share[1]:
            why = ("each shard is picked with equal probability, so a start in a short shard comes up far more often: "
                   "draw one start among all of them (or pick a shard in proportion to its starts)")  # fmt: skip
        else:
            why = "start positions are not uniform over all the starts of all the shards"
        raise Misconception(
            why,
            f"chi-square {chi2:.0f} over {len(starts)} starts (bound {bound:.0f}); share of windows per shard: "
            + ", ".join(f"shard {k} ({lengths[k]} tokens) {per_shard[k]:.3f} vs {share[k]:.3f}" for k in range(len(lengths))),
        )


def test_random_numbers_come_only_from_the_generator(submission, tmp_path):
    """the same generator state gives the same batch; the global generators are neither used nor advanced"""
    write_dataset(tmp_path, [300, 200])
    dataset = submission.TokenDataset(tmp_path, "train")
    before = (_get_rng_state(), _np_get_state()[1].copy(), _py_getstate())
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    first = batch(dataset, 8, 16, seed=5)
    torch.manual_seed(2)
    np.random.seed(2)
    random.seed(2)
    second = batch(dataset, 8, 16, seed=5)
    expect(
        torch.equal(first[0], second[0]) and torch.equal(first[1], second[1]),
        "the batch depends on the global torch/numpy/random seed: draw every random number from `generator`",
        "same generator seed, different global seeds: different batches",
    )
    state = generator(6)
    a = dataset.get_batch(8, 16, state)[0]
    b = dataset.get_batch(8, 16, state)[0]
    expect(not torch.equal(a, b), "get_batch advances its generator: two calls in a row give different batches", "two calls with one generator gave the same batch")
    torch.manual_seed(3)
    marker = torch.get_rng_state()
    np.random.seed(3)
    np_marker = np.random.get_state()[1].copy()
    batch(dataset, 8, 16, seed=7)
    expect(
        torch.equal(torch.get_rng_state(), marker) and np.array_equal(np.random.get_state()[1], np_marker),
        "get_batch advances the global torch or numpy generator: use only the generator it is given",
    )
    torch.set_rng_state(before[0])
    random.setstate(before[2])


def test_the_split_is_memory_mapped_read_only_and_counted(submission, tmp_path, budget, reference):
    """shards are np.memmap opened read-only, never read into memory; len() counts the split's tokens"""
    lengths = [1 << 23] * 3 + [1 << 22]  # 56 MB of uint16 on disk, in files under the grader's 32 MB file cap
    _write_big(tmp_path / "big", lengths)
    dataset = submission.TokenDataset(tmp_path / "big", "train")
    expect(isinstance(dataset.shards, list) and len(dataset.shards) == len(lengths), "TokenDataset.shards is a list with one entry per shard file", f"shards: {type(dataset.shards).__name__}")
    for k, shard in enumerate(dataset.shards):
        expect(isinstance(shard, _memmap_type), "each shard is an np.memmap: the data stays on disk and pages in as windows are read", f"shards[{k}] is {type(shard).__name__}")
        expect(shard.dtype == np.dtype("<u2") and shard.shape == (lengths[k],), "each memmap is uint16 with the shard's token count", f"shards[{k}]: {shard.dtype}, {shard.shape}")
        expect(getattr(shard, "mode", None) == "r", "shards are opened read-only (mode='r'): reading a batch must not be able to change the corpus", f"shards[{k}].mode is {getattr(shard, 'mode', None)!r}")
    expect_equal(len(dataset), sum(lengths), "len(dataset) is the number of tokens of the split, over all its shards")
    budget.peak_memory(
        lambda: submission.TokenDataset(tmp_path / "big", "train").get_batch(4, 64, generator(0)),
        lambda: reference.TokenDataset(tmp_path / "big", "train").get_batch(4, 64, generator(0)),
        why="opening the split reads the shards into memory: np.memmap maps them and reads only the windows drawn",
    )  # fmt: skip


def _write_big(folder, lengths):
    os.makedirs(folder, exist_ok=True)
    entries = []
    for k, n in enumerate(lengths):
        name = f"train_{k:05d}.bin"
        _tofile((np.arange(n) % 60000).astype("<u2"), os.path.join(folder, name))
        entries.append({"file": name, "tokens": n})
    meta = {"dtype": "uint16", "vocab_size": 60000, "eot": None, "shard_tokens": lengths[0],
            "splits": {"train": {"documents": len(lengths), "tokens": sum(lengths), "shards": entries},
                       "val": {"documents": 0, "tokens": 0, "shards": []}}}  # fmt: skip
    with open(os.path.join(folder, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f)


def test_each_split_reads_its_own_shards_and_a_batch_goes_to_the_device(submission, tmp_path):
    """the split named is the one read; x and y land on the device asked for"""
    write_dataset(tmp_path, [30, 30], split="val", base=40_000)
    add_split(tmp_path, "train", [50, 50], base=1000)
    val = submission.TokenDataset(tmp_path, "val")
    x, y = val.get_batch(4, 6, generator(0))
    expect(x.min().item() >= 40_000, "TokenDataset(folder, 'val') reads the val shards of meta.json", f"x holds {x.flatten()[:6].tolist()}")
    x, y = val.get_batch(4, 6, generator(0), device="meta")
    expect(x.device.type == "meta" and y.device.type == "meta", "x and y are moved to `device`", f"device='meta': x on {x.device}, y on {y.device}")


def test_a_split_too_short_for_one_window_is_refused(submission, tmp_path):
    """no shard with block_size + 1 tokens: ValueError, not an endless loop or an empty batch"""
    write_dataset(tmp_path, [8, 5])
    dataset = submission.TokenDataset(tmp_path, "train")
    x, _ = dataset.get_batch(2, 7, generator(0))  # one start: the 8-token shard holds 7 + 1
    expect(where(x[0].tolist()) == (0, 0), "a shard of exactly block_size + 1 tokens has one start, position 0", f"x[0] = {x[0].tolist()}")
    try:
        got = dataset.get_batch(2, 8, generator(0))
    except ValueError:
        return
    raise Misconception(
        "when no shard holds block_size + 1 tokens, get_batch raises ValueError",
        f"shards of 8 and 5 tokens, block_size 8: get_batch returned {type(got).__name__}",
    )
