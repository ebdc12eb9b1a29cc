"""Grader: documents tokenized into uint16 shards on disk with a meta.json, split by a stable hash.

The expected split of every document is computed here from the formula of the task (blake2b, bound
before any learner code runs), the expected token stream of each split from the documents and the
encoder alone, and the files are read back with NumPy as raw little-endian uint16. Memory is
measured on a generated stream of some hundred megabytes at two sizes: it must not grow with the text.
"""

import hashlib
import json
import os
import random
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mentor.grading.budget import compare_speed
from mentor.grading.expect import Misconception, expect, expect_equal

_blake2b, _fromfile, _listdir = hashlib.blake2b, np.fromfile, os.listdir  # bound before learner code runs

PROPERTY = settings(
    max_examples=150, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False, phases=(Phase.explicit, Phase.generate),
)  # fmt: skip
EOT = 256
BYTE_VOCAB = 257  # the 256 byte values and the end-of-text token


def hash_fraction(document: str) -> float:
    return int.from_bytes(_blake2b(document.encode("utf-8"), digest_size=8).digest(), "little") / 2**64


def expected_split(document: str, val_fraction: float) -> str:
    return "val" if hash_fraction(document) < val_fraction else "train"


def byte_ids(text: str) -> np.ndarray:
    """A byte-level tokenizer: one id per UTF-8 byte, returned as a NumPy array."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def byte_list(text: str) -> list[int]:
    """The same tokenizer returning a Python list."""
    return list(text.encode("utf-8"))


def documents(count: int, seed: int = 0) -> list[str]:
    """`count` documents of 0 to ~60 characters, some empty, some non-ASCII, all distinct but the empty ones."""
    rng = random.Random(seed)
    alphabet = "abcdefgh ijk\nxyzé€😀"
    docs = [f"{n}:" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(60))) for n in range(count)]
    docs[3] = docs[11] = ""
    return docs


def expected_streams(docs, encode, val_fraction, eot) -> dict:
    streams = {"train": [], "val": []}
    for doc in docs:
        ids = [int(i) for i in encode(doc)] + ([] if eot is None else [eot])
        streams[expected_split(doc, val_fraction)].extend(ids)
    return streams


def bin_files(folder) -> list[str]:
    return sorted(name for name in _listdir(folder) if name.endswith(".bin"))


def read_back(folder, meta: dict, split: str) -> list[int]:
    tokens = []
    for shard in meta["splits"][split]["shards"]:
        tokens.extend(_fromfile(os.path.join(folder, shard["file"]), dtype="<u2").tolist())
    return tokens


def load_meta(folder) -> dict:
    path = os.path.join(folder, "meta.json")
    expect(os.path.exists(path), "write_shards writes meta.json into out_dir", f"files in out_dir: {sorted(_listdir(folder))}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# -- split_of ---------------------------------------------------------------------------------------
@PROPERTY
@given(document=st.text(max_size=40), val_fraction=st.sampled_from([0.0, 0.01, 0.05, 0.3, 0.5, 0.99, 1.0]))
def test_split_follows_the_stated_hash(submission, document, val_fraction):
    """every document goes to the split its blake2b hash says, for any text and fraction"""
    got = submission.split_of(document, val_fraction)
    want = expected_split(document, val_fraction)
    expect(isinstance(got, str), "split_of returns the string 'train' or 'val'", f"got {type(got).__name__}: {got!r}")
    if got != want:
        why = diagnose_split(submission)
        raise Misconception(why, f"document {document!r}, val_fraction {val_fraction}: got {got!r}, expected {want!r} (its number is {hash_fraction(document):.6f})")


def diagnose_split(submission) -> str:
    """What the learner's split_of does instead, judged on 400 documents at fractions 0.3 and 0.7."""
    sample = [(f"sample {n}", f) for n in range(200) for f in (0.3, 0.7)]
    got = [submission.split_of(d, f) for d, f in sample]

    def agrees(rule) -> bool:
        return all(("val" if rule(d, f) else "train") == g for (d, f), g in zip(sample, got))

    def big_endian(d, f):
        return int.from_bytes(_blake2b(d.encode("utf-8"), digest_size=8).digest(), "big") / 2**64 < f

    if agrees(big_endian):
        return "the 8 digest bytes are read big-endian: the task reads them little-endian"
    if agrees(lambda d, f: hash_fraction(d) >= f):
        return "the splits are the wrong way round: a document goes to 'val' when its number is BELOW val_fraction"
    if agrees(lambda d, f: hash_fraction(d) < f):
        return "the split is right on ordinary documents but not on this one (empty text, non-ASCII, or a fraction of 0 or 1?)"
    return "the split does not follow the hash of the task (blake2b of the UTF-8 text, 8 bytes, little-endian, / 2**64)"


def test_the_split_is_stable_and_holds_about_its_fraction(submission):
    """about val_fraction of the documents go to 'val', the same ones on every call"""
    docs = [f"document {n}" for n in range(4000)]
    first = [submission.split_of(d, 0.1) for d in docs]
    again = [submission.split_of(d, 0.1) for d in reversed(docs)][::-1]
    expect(first == again, "split_of depends only on the document: the same text gets the same split on every call, in any order")
    share = first.count("val") / len(docs)
    expect(abs(share - 0.1) < 0.02, "about val_fraction of the documents go to 'val'", f"val_fraction 0.1: {share:.3f} of 4000 documents went to 'val'")


# -- the files on disk ------------------------------------------------------------------------------
def diagnose_stream(got: list[int], want: list[int], split: str, eot) -> str:
    if got == want:
        return ""
    if eot is not None and [t for t in got if t != eot] == [t for t in want if t != eot]:
        if got.count(eot) < want.count(eot):
            return f"the end-of-text token {eot} is missing after some documents: every document is followed by eot"
        return f"the end-of-text token {eot} is in the wrong places: it goes after each document, not before"
    if sorted(got) == sorted(want):
        return f"the {split} tokens are all there but in another order: documents keep the order they come in"
    if len(got) < len(want):
        return f"{len(want) - len(got)} tokens of the {split} split are missing (a shard not written, or the last one dropped?)"
    return f"the {split} split holds other tokens than its documents encode to"


@pytest.mark.parametrize("encode", [byte_ids, byte_list], ids=["array", "list"])
def test_every_token_is_written_in_order_in_full_shards(submission, tmp_path, encode):
    """each split's tokens are its documents' ids followed by eot, in order, in shards of exactly shard_tokens"""
    docs = documents(200)
    out = tmp_path / "data"
    meta = submission.write_shards(docs, encode, out, BYTE_VOCAB, shard_tokens=500, val_fraction=0.2, eot=EOT)
    on_disk = load_meta(out)
    expect(isinstance(meta, dict), "write_shards returns meta as a dict", f"got {type(meta).__name__}")
    expect_equal(meta, on_disk, "the dict write_shards returns is what meta.json holds")
    want = expected_streams(docs, byte_list, 0.2, EOT)
    expect_equal(
        {k: on_disk.get(k) for k in ("dtype", "vocab_size", "eot", "shard_tokens")},
        {"dtype": "uint16", "vocab_size": BYTE_VOCAB, "eot": EOT, "shard_tokens": 500},
        "meta.json says dtype 'uint16', vocab_size, eot and shard_tokens as given",
    )
    expect(sorted(on_disk.get("splits", {})) == ["train", "val"], "meta.json has a 'splits' entry for 'train' and for 'val'", f"got {on_disk.get('splits')!r:.300}")
    names = []
    for split in ("train", "val"):
        info = on_disk["splits"][split]
        shards = info["shards"]
        sizes = [s["tokens"] for s in shards]
        expected_sizes = [500] * (len(want[split]) // 500) + ([len(want[split]) % 500] if len(want[split]) % 500 else [])
        for s in shards:
            nbytes = os.path.getsize(out / s["file"])
            if nbytes != 2 * s["tokens"]:
                per = nbytes / max(s["tokens"], 1)
                why = (f"{s['file']} holds {per:g} bytes per token: uint16 is 2 bytes a token (int32/int64 written?)"
                       if per in (4, 8) else
                       f"{s['file']} has {nbytes - 2 * s['tokens']} bytes more than its tokens: write the raw uint16 ids, no header (np.save adds one; use tofile)")  # fmt: skip
                raise Misconception(why, f"{s['file']}: {nbytes} bytes for {s['tokens']} tokens")
        stream = read_back(out, on_disk, split)
        why = diagnose_stream(stream, want[split], split, EOT)
        if why:
            raise Misconception(why, f"{split}: {len(stream)} tokens on disk, {len(want[split])} expected; first difference at {_first_difference(stream, want[split])}")
        if sizes != expected_sizes:
            if len(sizes) > len(expected_sizes):
                why = "shards are not filled: a shard holds exactly shard_tokens tokens, and a document runs over into the next shard"
            else:
                why = "the shard sizes are not shard_tokens each (the last shorter)"
            raise Misconception(why, f"{split} shard sizes: got {sizes[:8]}{'…' if len(sizes) > 8 else ''}, expected {expected_sizes[:8]}")
        expect_equal(
            [s["file"] for s in shards], [f"{split}_{i:05d}.bin" for i in range(len(shards))],
            "shard files are named {split}_{index:05d}.bin, counted from 0 in each split",
        )  # fmt: skip
        expect_equal(
            [info.get("documents"), info.get("tokens")],
            [sum(expected_split(d, 0.2) == split for d in docs), len(want[split])],
            f"meta.json's 'documents' and 'tokens' of {split} count what was written",
        )  # fmt: skip
        names += [s["file"] for s in shards]
    expect_equal(bin_files(out), sorted(names), "out_dir holds exactly the shard files meta.json lists (no empty shard)")


def _first_difference(got, want) -> str:
    for n, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"token {n}: got {a}, expected {b}"
    return f"token {min(len(got), len(want))}: one stream ends there"


def test_a_generator_is_read_once_and_a_list_is_left_as_it_was(submission, tmp_path):
    """documents may come from a generator (read once); a list passed in is not changed; out_dir is made"""
    docs = documents(60, seed=1)
    kept = list(docs)
    reads = []

    def stream():
        for d in docs:
            reads.append(d)
            yield d

    meta = submission.write_shards(stream(), byte_ids, tmp_path / "a" / "b", BYTE_VOCAB, shard_tokens=64, val_fraction=0.3, eot=None)
    expect(len(reads) == len(docs), "every document of the iterable is read, once", f"{len(reads)} reads of {len(docs)} documents")
    written = sum(meta["splits"][split].get("documents", 0) for split in ("train", "val"))
    expect(
        written == len(docs),
        "every document of the iterable is read, once: a generator is empty on a second pass, so write while reading",
        f"{len(docs)} documents from a generator, {written} written",
    )  # fmt: skip
    want = expected_streams(docs, byte_list, 0.3, None)
    for split in ("train", "val"):
        expect_equal(read_back(tmp_path / "a" / "b", meta, split), want[split], f"with eot=None the {split} tokens are the documents' ids alone, in order")
    submission.write_shards(docs, byte_ids, tmp_path / "c", BYTE_VOCAB, shard_tokens=64, val_fraction=0.3)
    expect(docs == kept, "write_shards leaves the caller's list of documents as it was", "the list changed during the call")


def test_the_edges_of_the_vocabulary_and_an_existing_folder_are_accepted(submission, tmp_path):
    """eot = 0, the last id of the vocabulary, and an out_dir that already exists are all fine"""
    out = tmp_path / "existing"
    out.mkdir()
    meta = submission.write_shards(["ab", ""], lambda text: [0, 9][: len(text)], out, 10, shard_tokens=8, val_fraction=0.0, eot=0)
    expect_equal(read_back(out, meta, "train"), [0, 9, 0, 0], "eot 0 and id vocab_size - 1 are ids of the vocabulary; an existing out_dir is written into")
    meta = submission.write_shards(["a", "b"], lambda text: [0], tmp_path / "one", 1, shard_tokens=8, val_fraction=0.0)
    expect_equal(read_back(tmp_path / "one", meta, "train"), [0, 0], "a vocabulary of one id (vocab_size 1) is allowed: id 0")


def test_the_full_uint16_range_is_kept_and_what_does_not_fit_is_refused(submission, tmp_path):
    """ids up to 65535 survive; a vocabulary past 65536, an eot or id outside it raise ValueError, before writing"""
    top = lambda text: [65535, 65534, 32768, 0] * len(text)  # noqa: E731  ids a signed int16 would wrap
    meta = submission.write_shards(["ab", "c"], top, tmp_path / "top", 1 << 16, shard_tokens=5, val_fraction=0.0)
    expect_equal(read_back(tmp_path / "top", meta, "train"), top("ab") + top("c"), "ids up to 65535 are stored as they are (uint16, not int16)")
    expect_equal(
        [bin_files(tmp_path / "top"), meta["splits"]["val"]["shards"]],
        [["train_00000.bin", "train_00001.bin", "train_00002.bin"], []],
        "12 tokens in shards of 5 are three files, and a split without tokens has no shard file (no empty file)",
    )  # fmt: skip
    for n, (why, kwargs) in enumerate([
        ("vocab_size 70000 does not fit uint16: raise ValueError before writing", dict(vocab_size=70_000)),
        ("vocab_size 65537 does not fit uint16 (ids 0..65536): raise ValueError", dict(vocab_size=65_537)),
        ("an eot outside the vocabulary raises ValueError", dict(vocab_size=BYTE_VOCAB, eot=BYTE_VOCAB)),
        ("an eot outside the vocabulary raises ValueError", dict(vocab_size=BYTE_VOCAB, eot=-1)),
    ]):
        out = tmp_path / f"refused{n}"
        try:
            submission.write_shards(iter(["abc"]), byte_ids, out, shard_tokens=4, **kwargs)
        except ValueError:
            pass
        else:
            raise Misconception(why, f"write_shards(..., {', '.join(f'{k}={v}' for k, v in kwargs.items())}) returned")
        written = bin_files(out) if os.path.exists(out) else []
        expect(not written, why, f"shard files written before the refusal: {written}")
    try:
        submission.write_shards(iter([]), byte_ids, tmp_path / "none", 0, shard_tokens=4)
    except ValueError:
        pass
    else:
        raise Misconception("a vocab_size of 0 has no ids: raise ValueError (vocab_size is 1..65536)", "write_shards(iter([]), ..., vocab_size=0) returned")
    for ids, what in [([3, 257], "id 257 of a vocabulary of 257 (0..256)"), ([3, 300], "id 300 of a vocabulary of 257"), ([3, -1], "id -1")]:
        try:
            submission.write_shards(["x"], lambda text, ids=ids: ids, tmp_path / "bad", BYTE_VOCAB, shard_tokens=4)
        except ValueError:
            continue
        raise Misconception("an id outside 0..vocab_size-1 raises ValueError: stored as uint16 it would wrap to another token", f"encode returned {ids} ({what}); write_shards returned")


# -- memory ---------------------------------------------------------------------------------------------
DOC_CHARS = 1 << 20  # one megabyte per generated document
SHARD = 1 << 21  # 2M tokens: a 4 MB shard buffer
SPEED_MB = 16  # the text the speed check streams


def big_stream(megabytes: int):
    """`megabytes` documents of 1 MB each, distinct (each ends with its number)."""
    block = ("the quick brown fox jumps over the lazy dog; " * (DOC_CHARS // 45 + 1))[: DOC_CHARS - 16]
    return (f"{block}{n:016d}" for n in range(megabytes))


def test_memory_stays_flat_on_a_stream_of_hundreds_of_megabytes(submission, reference, tmp_path, budget):
    """memory does not grow with the text: the peak on 192 MB of documents is that on 96 MB"""
    def run(module, megabytes, name):
        def go():
            module.write_shards(big_stream(megabytes), byte_ids, tmp_path / name, BYTE_VOCAB, shard_tokens=SHARD, val_fraction=0.01)
            shutil.rmtree(tmp_path / name)
        return go

    # 16 MB, the fastest of 3 runs a side: a loop over tokens takes ~2 s of it where the reference takes
    # ~0.06 s, so neither a load spike on the reference's side nor the absolute slack for tiny times lets it pass
    mine, theirs = compare_speed(run(submission, SPEED_MB, "speed-yours"), run(reference, SPEED_MB, "speed-ref"), repeat=3)
    expect(  # at this speed the 288 MB below would take more than about a minute
        mine < 10 * theirs + 0.5,
        "write_shards is far too slow to stream a large corpus: take each document's ids as one NumPy array and "
        "copy them into the shard buffer in slices, with no Python loop or list per token",
        f"{SPEED_MB} MB of documents: yours {mine:.2f}s, reference {theirs:.2f}s",
    )
    budget.memory_scaling(
        lambda megabytes: run(submission, megabytes, f"mem{megabytes}"), 96,
        why="memory grows with the corpus: write each shard when it is full and keep no tokens of earlier shards or documents",
    )  # fmt: skip
