"""The run's text as tokens: the learner's BPE trained on it, their shards written from it, batches drawn.

Documents are the text's blank-line-separated pieces; the learner's `write_shards` holds a stable
fraction of them out whole as the validation split, so no validation sentence is ever half in the
training data. The tokenizer and the shards are kept in the run's folder with the hash of the text
they came from, and rebuilt only when the text changes.

Every process draws the same global batch from one generator and keeps its own rows: N processes
with B rows each see exactly the batch of one process with N·B rows, and the generator's state is
the whole data position a checkpoint needs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from mentor.capstone.components import EOT
from mentor.corpus import DOCUMENT_SEPARATOR

SHARD_TOKENS = 1 << 24  # 32 MiB of uint16 per shard file


def documents_of(text: str) -> list[str]:
    return [d for d in text.split(DOCUMENT_SEPARATOR) if d.strip()]


def prepare_tokenizer(run_dir: Path, text: str, text_sha: str, vocab_size: int, parts, on_build=lambda: None):
    """The learner's BPETokenizer, trained with their train_bpe on `text` unless the run has it already
    (on_build is called first when it is trained)."""
    path = run_dir / "tokenizer.json"
    saved = _read_json(path)
    if saved and saved.get("text_sha256") == text_sha and saved.get("vocab_size") == vocab_size:
        merges = [tuple(pair) for pair in saved["merges"]]
    else:
        on_build()
        merges = [tuple(int(i) for i in pair) for pair in parts.train_bpe(text, vocab_size - 256 - 1)]  # one id left for EOT
        _write_json(path, {"vocab_size": vocab_size, "text_sha256": text_sha, "special_tokens": [EOT], "merges": merges})
    tokenizer = parts.BPETokenizer(merges, [EOT])
    return tokenizer, _sha_of(merges)


def prepare_shards(run_dir: Path, text: str, text_sha: str, tokenizer, tokenizer_sha: str, config, parts, on_build=lambda: None) -> Path:
    """run_dir/data: the learner's write_shards output for this text and tokenizer (on_build is called
    first when they are written); returns the folder."""
    data_dir = run_dir / "data"
    source = {"text_sha256": text_sha, "tokenizer_sha256": tokenizer_sha, "val_fraction": config.val_fraction}
    if _read_json(data_dir / "source.json") == source and (data_dir / "meta.json").is_file():
        return data_dir
    on_build()
    if data_dir.exists():
        shutil.rmtree(data_dir)  # shards of another text: derived files, remade below
    (eot,) = tokenizer.encode(EOT)
    parts.write_shards(documents_of(text), tokenizer.encode, data_dir, vocab_size=config.vocab_size,
                       shard_tokens=SHARD_TOKENS, val_fraction=config.val_fraction, eot=eot)  # fmt: skip
    _write_json(data_dir / "source.json", source)
    return data_dir


def counted_tokens(run_dir: Path, text_sha: str):
    """Tokens of the text in the run's shards, when they were made from this text; else None."""
    source = _read_json(run_dir / "data" / "source.json")
    meta = _read_json(run_dir / "data" / "meta.json")
    if not source or not meta or source.get("text_sha256") != text_sha:
        return None
    return sum(split["tokens"] for split in meta["splits"].values())


class GlobalBatches:
    """get_batch(split) -> this process's rows of the global (batch, block_size) batch, on `device`."""

    def __init__(self, dataset, batch: int, block_size: int, seed: int, rank: int = 0, world_size: int = 1, device="cpu"):
        import torch

        self.dataset, self.batch, self.block_size = dataset, batch, block_size
        self.rank, self.world_size, self.device = rank, world_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.served = 0

    def get_batch(self, split: str = "train"):
        x, y = self.dataset.get_batch(self.batch, self.block_size, self.generator)  # (B, T) each, on the CPU
        rows = slice(self.rank * self.batch // self.world_size, (self.rank + 1) * self.batch // self.world_size)
        self.served += 1
        # contiguous: y is a shifted view of the windows, and a model may .view() its targets
        return x[rows].contiguous().to(self.device), y[rows].contiguous().to(self.device)  # (B / world_size, T)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "served": self.served}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.served = state["served"]


def _sha_of(value) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
