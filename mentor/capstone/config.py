"""The capstone's configurations, one per profile, as `curriculum/capstone.yaml` writes them.

Validated like the rest of the curriculum (pydantic on plain dataclasses, unknown fields refused),
and every error names the file, the configuration and the field. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from mentor.curriculum import CurriculumError, Profile, _read_yaml, _validate

_FORBID = {"extra": "forbid"}
CONFIG_FILE = "curriculum/capstone.yaml"


@dataclass
class CapstoneConfig:
    """One capstone run: the model's shape, the batch, the schedule and what the plan may assume."""

    __pydantic_config__ = _FORBID
    description: str
    machine: str  # the course profile whose device and memory this configuration is sized for
    vocab_size: int  # the learner's BPE vocabulary: 256 bytes + merges + one end-of-text token
    block_size: int
    d_model: int
    n_layers: int
    n_heads: int
    batch: int  # sequences per micro-batch over all processes
    accum: int  # micro-batches per optimizer step
    max_lr: float
    min_lr: float
    warmup_steps: int
    eval_every: int
    eval_iters: int
    checkpoint_every: int
    tokens_per_s: float  # a stated throughput, until a run has measured one
    bytes_per_token: float  # a stated compression, until the text has been tokenized
    steps: Optional[int] = None  # None: enough for tokens_per_param tokens per parameter
    tokens_per_param: float = 20.0  # Chinchilla: about 20 training tokens per parameter
    weight_decay: float = 0.1
    max_norm: float = 1.0
    dtype: Literal["float32", "bfloat16"] = "float32"
    corpus_bytes: Optional[int] = None  # the default corpus cut at this size (None: all of it)
    val_fraction: float = 0.05  # of the documents, held out whole
    seed: int = 1337
    threads: Optional[int] = None  # torch threads of a CPU run (None: torch's default, one per core)

    @property
    def tokens_per_step(self) -> int:
        return self.batch * self.accum * self.block_size


@dataclass
class CapstoneFile:
    __pydantic_config__ = _FORBID
    configurations: dict[str, CapstoneConfig] = field(default_factory=dict)


def load_configs(content_root: Path, profiles: dict[str, Profile]) -> dict[str, CapstoneConfig]:
    """Every configuration, checked against the course's profiles; raises CurriculumError."""
    path = content_root / CONFIG_FILE
    if not path.is_file():
        raise CurriculumError(f"{path} does not exist: the course ships the capstone's configurations there")
    configs = _validate(CapstoneFile, _read_yaml(path), path).configurations
    for name, c in configs.items():
        where = f"{path}: configurations.{name}"
        if c.machine not in profiles:
            raise CurriculumError(f"{where}.machine: {c.machine!r} is not a profile of course.yaml ({', '.join(profiles)})")
        if c.d_model % c.n_heads:
            raise CurriculumError(f"{where}.n_heads: {c.n_heads} heads do not split d_model={c.d_model} evenly")
        if not 258 <= c.vocab_size <= 1 << 16:
            raise CurriculumError(f"{where}.vocab_size: {c.vocab_size} must be 258..65536 (bytes, a merge, end-of-text; uint16 shards)")
        for name_, value in (("batch", c.batch), ("accum", c.accum), ("block_size", c.block_size), ("eval_iters", c.eval_iters),
                             ("eval_every", c.eval_every), ("checkpoint_every", c.checkpoint_every), ("steps", c.steps or 1)):  # fmt: skip
            if value < 1:
                raise CurriculumError(f"{where}.{name_}: must be at least 1, got {value}")
        if not 0 < c.val_fraction < 1:
            raise CurriculumError(f"{where}.val_fraction: must be between 0 and 1, got {c.val_fraction}")
    return configs
