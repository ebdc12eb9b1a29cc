"""What a capstone run will be before it starts: parameters, tokens wanted and had, memory, time.

The arithmetic is the course's own: the parameter count and the bytes of a training step are those
of Phase 3 (`solutions/phase3/memory.py`, the course's reference, so that a slip in the learner's
copy cannot mislead the plan), the tokens wanted are Chinchilla's ~20 per parameter. A figure the
plan could not measure (the text not tokenized yet, no run to time) is a stated one, and says so.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from mentor.capstone.config import CapstoneConfig

MEMORY_HEADROOM = 0.75  # of the limit a plan may fill: allocator slack, the framework, the OS and an editor
TOO_MANY_EPOCHS = 4  # past ~4 passes over the same text more data beats more repetition (Muennighoff et al.)


@dataclass
class TextInfo:
    """The training text, as the plan sees it."""

    source: str
    bytes: int
    sha256: str
    tokens: int
    counted: bool  # True: tokenized with the run's tokenizer; False: bytes / bytes_per_token


@dataclass
class Plan:
    profile: str
    description: str
    device: str
    model: dict  # vocab_size, block_size, d_model, n_layers, n_heads
    params: int
    batch: int
    accum: int
    world_size: int
    tokens_per_step: int
    steps: int
    tokens_planned: int
    tokens_wanted: int
    text: dict
    epochs: float
    shortfall: int
    advice: str
    memory: dict  # the Phase 3 parts for one process, its limit, the share of it used
    tokens_per_s: float
    throughput_measured: bool
    expected_seconds: float
    schedule: dict
    dtype: str
    seed: int
    components: dict = field(default_factory=dict)  # filled by a run: whose file each part came from

    def to_json(self) -> dict:
        return asdict(self)


def course_memory_module(content_root: Path):
    """The course's reference of p3.memory.training: param_count, training_memory, GPTConfig."""
    from mentor.grading.plugin import load_module_from

    return load_module_from(str(content_root / "solutions" / "phase3" / "memory.py"), "capstone_course_memory", isolate=True)


def parameter_count(memory, config: CapstoneConfig) -> int:
    """N of the Phase 2 GPT at this shape: tied head, biases, as Phase 3 counts it."""
    return memory.param_count(_memory_config(memory, config))


def _memory_config(memory, config: CapstoneConfig):
    return memory.GPTConfig(
        vocab_size=config.vocab_size, block_size=config.block_size, d_model=config.d_model,
        n_layers=config.n_layers, n_heads=config.n_heads, tied=True, bias=True,
    )  # fmt: skip


def text_info(text: str, source: str, config: CapstoneConfig, counted_tokens: Optional[int] = None) -> TextInfo:
    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    if counted_tokens is not None:
        return TextInfo(source, len(data), sha, counted_tokens, True)
    return TextInfo(source, len(data), sha, round(len(data) / config.bytes_per_token), False)


def make_plan(
    name: str,
    config: CapstoneConfig,
    profile,
    memory,
    text: TextInfo,
    world_size: int = 1,
    steps: Optional[int] = None,
    measured_tokens_per_s: Optional[float] = None,
) -> Plan:
    """The plan of `config` on `text`; `profile` is the course profile of config.machine."""
    params = parameter_count(memory, config)
    wanted = round(config.tokens_per_param * params)
    per_step = config.tokens_per_step
    total_steps = steps or config.steps or math.ceil(wanted / per_step)
    planned = total_steps * per_step
    if config.batch % world_size:
        raise ValueError(f"batch {config.batch} does not split over {world_size} processes: choose a multiple of {world_size}")
    parts = memory.training_memory(_memory_config(memory, config), config.batch // world_size, config.block_size, config.dtype)
    limit = int(profile.memory_gb * 2**30)  # a "16 GB" card holds 16 GiB (see p3.memory.training)
    train_tokens = max(1, round(text.tokens * (1 - config.val_fraction)))
    epochs = planned / train_tokens
    shortfall = max(0, wanted - train_tokens)
    tps = measured_tokens_per_s or config.tokens_per_s
    return Plan(
        profile=name,
        description=config.description,
        device=profile.device,
        model={k: getattr(config, k) for k in ("vocab_size", "block_size", "d_model", "n_layers", "n_heads")},
        params=params,
        batch=config.batch,
        accum=config.accum,
        world_size=world_size,
        tokens_per_step=per_step,
        steps=total_steps,
        tokens_planned=planned,
        tokens_wanted=wanted,
        text=asdict(text),
        epochs=round(epochs, 2),
        shortfall=shortfall,
        advice=_advice(name, params, wanted, train_tokens, epochs),
        memory={
            **parts,
            "limit": limit,
            "share": round(parts["total"] / limit, 4),
            "fits": parts["total"] <= MEMORY_HEADROOM * limit,
            "per_process_batch": config.batch // world_size,
        },
        tokens_per_s=round(tps, 1),
        throughput_measured=measured_tokens_per_s is not None,
        expected_seconds=round(planned / tps, 1),
        schedule={"max_lr": config.max_lr, "min_lr": config.min_lr, "warmup_steps": config.warmup_steps, "total_steps": total_steps},
        dtype=config.dtype,
        seed=config.seed,
    )


def _advice(name: str, params: int, wanted: int, have: int, epochs: float) -> str:
    if have >= wanted:
        return f"The text covers the ~{wanted:,} tokens a model of {params:,} parameters wants."
    text = (
        f"The text gives {have:,} training tokens, {wanted - have:,} short of the ~{wanted:,} a model of "
        f"{params:,} parameters wants (20 per parameter), so the run passes over it {epochs:.1f} times."
    )
    if epochs > TOO_MANY_EPOCHS:
        text += (
            f" Past ~{TOO_MANY_EPOCHS} passes a model learns the text by heart more than the language: train on more "
            f"text with `mentor capstone train --profile {name} --file YOUR_TEXT.txt` (UTF-8, documents separated by a "
            "blank line, e.g. public-domain books you have on disk), or stop earlier with --steps."
        )
    return text


def measured_throughput(log_path: Path) -> Optional[float]:
    """The median tokens/s of a run's last logged steps, or None when there is no run to read."""
    try:
        lines = log_path.read_text(encoding="utf-8").splitlines()[-50:]
    except OSError:
        return None
    rates = sorted(r["tokens_per_s"] for r in (_json(line) for line in lines) if r and r.get("tokens_per_s"))
    return rates[len(rates) // 2] if rates else None


def _json(line: str) -> Optional[dict]:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def describe_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
