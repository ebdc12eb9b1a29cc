"""`mentor capstone train`: the learner's parts trained end to end, in one process or under torchrun.

A run lives in `capstone/<profile>/` of the workspace: plan.json (the plan it follows, whose files it
used), tokenizer.json, data/ (the shards), checkpoint.pt and log.jsonl (Phase 4's JSON lines: step,
tokens, train_loss, val_loss, lr, grad_norm, tokens_per_s). A run follows the plan it started with:
`--resume` reads plan.json back, so a changed configuration never bends a run half-way, and the
checkpoint (the learner's save_checkpoint: model, optimizer, schedule, RNGs, data position) makes
the continued run the one that would have happened without the stop.

Under torchrun every process runs this same path: DistributedDataParallel averages the gradients
(gloo on the CPU, nccl on CUDA), each process trains on its rows of the global batch, and only rank
0 writes files or prints. Ctrl-C (SIGINT, or the SIGTERM torchrun forwards) asks every process to
stop after the step in flight; rank 0 saves, and the run ends with exit status 130.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from mentor.capstone import data as capstone_data
from mentor.capstone.plan import Plan

CHECKPOINT, LOG, PLAN = "checkpoint.pt", "log.jsonl", "plan.json"
BETAS = (0.9, 0.95)  # GPT-3's: a shorter memory of v than 0.999 keeps large-batch LM training stable


class CapstoneError(Exception):
    """A run that cannot start or go on; the message says what to do."""


@dataclass
class RunResult:
    run_dir: Path
    step: int  # optimizer steps done in all
    total_steps: int
    interrupted: bool
    train_loss: Optional[float]
    val_loss: Optional[float]
    tokens_per_s: Optional[float]
    resumed_from: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def run_dir_of(workspace_root: Path, profile: str) -> Path:
    return workspace_root / "capstone" / profile


def start_distributed(device_type: str) -> Distributed:
    """The process group torchrun describes in the environment; one process without it."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def cpu_threads(count: Optional[int]):
    """torch's thread count set to `count` (None: left alone) for the block, and the caller's given back."""
    import torch

    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_run(
    run_dir: Path,
    plan: Plan,
    config,
    text: str,
    parts,
    dist: Distributed,
    resume: bool,
    stop_at: Optional[int] = None,
    on_event: Callable[[str, dict], None] = lambda kind, info: None,
) -> RunResult:
    """Train `plan` with the learner's `parts` in `run_dir` until step `stop_at` (default: the plan's end).

    on_event(kind, info) reports "data", "start", "step", "eval" and "saved" to the display (rank 0 only).
    """
    import torch

    device = torch.device(f"cuda:{dist.local_rank}" if plan.device == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    total = plan.steps
    stop = stop_at or total
    report = on_event if dist.main else (lambda kind, info: None)

    # the text as the learner's tokens: rank 0 writes them, the others read them once they exist
    if dist.main:
        sha = plan.text["sha256"]
        tokenizer, tok_sha = capstone_data.prepare_tokenizer(run_dir, text, sha, config.vocab_size, parts,
                                                             lambda: report("data", {"stage": "tokenizer"}))  # fmt: skip
        capstone_data.prepare_shards(run_dir, text, sha, tokenizer, tok_sha, config, parts, lambda: report("data", {"stage": "shards"}))
    _barrier(dist)
    data_dir = run_dir / "data"
    train_set, val_set = parts.TokenDataset(data_dir, "train"), parts.TokenDataset(data_dir, "val")
    for split, dataset in (("train", train_set), ("val", val_set)):
        if len(dataset) <= config.block_size:
            raise CapstoneError(
                f"the {split} split has {len(dataset)} tokens, too few for one window of block_size + 1 = "
                f"{config.block_size + 1}: give the run more text with --file (documents separated by a blank line)"
            )

    torch.manual_seed(plan.seed)  # the same initial weights in every process (DDP also sends rank 0's)
    model = parts.GPT(parts.GPTConfig(**plan.model)).to(device)
    optimizer = parts.AdamW(parts.param_groups_for(model, config.weight_decay), lr=config.max_lr, betas=BETAS,
                            weight_decay=config.weight_decay)  # fmt: skip
    schedule = plan.schedule

    def lr_factor(step: int) -> float:  # LambdaLR scales the base lr (max_lr) by this
        return parts.lr_at(step, schedule["max_lr"], schedule["warmup_steps"], schedule["total_steps"], schedule["min_lr"]) / schedule["max_lr"]

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    batches = capstone_data.GlobalBatches(train_set, plan.batch, config.block_size, plan.seed, dist.rank, dist.world_size, device)
    step = 0
    checkpoint, log = run_dir / CHECKPOINT, run_dir / LOG
    if resume:
        step, data_state = parts.load_checkpoint(str(checkpoint), model, optimizer, scheduler)
        batches.load_state_dict(data_state["train"])
        if dist.main:
            _keep_log_until(log, step)  # lines logged after the checkpoint belong to steps that will run again
    if step >= stop:
        raise CapstoneError(f"the run is at step {step} already: " + ("it is complete" if step >= total else f"--steps {stop} asks for no more"))
    resumed_from = step
    trained = model
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = torch.bfloat16 if plan.dtype == "bfloat16" and device.type == "cuda" else None

    def save() -> None:
        if dist.main:
            parts.save_checkpoint(str(checkpoint), model, optimizer, scheduler, step, {"train": batches.state_dict()})
            report("saved", {"step": step, "path": checkpoint})

    stop_requested = _StopRequest()
    model.train()
    report("start", {"step": step, "stop": stop, "total": total, "world_size": dist.world_size, "device": str(device)})
    train_loss = val_loss = None
    rates = []  # tokens/s of each step this call ran
    interrupted = False
    with stop_requested:
        while step < stop:
            lr = optimizer.param_groups[0]["lr"]
            started = time.perf_counter()
            stats = parts.train_step(trained, optimizer, batches.get_batch, config.accum, max_norm=config.max_norm,
                                     autocast_dtype=autocast)  # fmt: skip
            scheduler.step()  # the lr of the next step
            if device.type == "cuda":
                torch.cuda.synchronize()  # the step's kernels done before the clock stops
            rate = plan.tokens_per_step / (time.perf_counter() - started)
            step += 1
            train_loss = _mean_across(dist, stats["loss"])
            rates.append(rate)
            val_loss = None
            if step % config.eval_every == 0 or step == stop:
                val_loss = _validation_loss(parts, model, val_set, plan, config, dist, device)
                report("eval", {"step": step, "val_loss": val_loss})
            if dist.main:
                parts.log_line(log, step=step, tokens=step * plan.tokens_per_step, train_loss=train_loss, val_loss=val_loss,
                               lr=lr, grad_norm=stats["grad_norm"], tokens_per_s=round(rate, 1))  # fmt: skip
            report("step", {"step": step, "loss": train_loss, "tokens_per_s": rate, "lr": lr})
            if not math.isfinite(train_loss):  # the last checkpoint, from before, is kept as it is
                raise CapstoneError(
                    f"the loss is {train_loss} at step {step}: lower max_lr, or look at your train_step and AdamW; "
                    "the last checkpoint, saved before it, is whole"
                )
            if stop_requested.agreed(dist):
                interrupted = step < stop
                break
            if step % config.checkpoint_every == 0 and step < stop:
                save()
    save()
    _barrier(dist)
    steady = sorted(rates[1:] or rates)  # the first step pays for warm-up (allocations, kernels chosen)
    median = steady[len(steady) // 2] if steady else None
    return RunResult(run_dir, step, total, interrupted, train_loss, val_loss, median, resumed_from)


def _validation_loss(parts, model, val_set, plan, config, dist: Distributed, device) -> float:
    # the same validation batches at every evaluation (a fixed seed), so the numbers compare
    val = capstone_data.GlobalBatches(val_set, plan.batch, config.block_size, plan.seed + 1, dist.rank, dist.world_size, device)
    return _mean_across(dist, parts.evaluate(model, val.get_batch, config.eval_iters))


def _mean_across(dist: Distributed, value: float) -> float:
    if dist.world_size == 1:
        return float(value)
    import torch
    import torch.distributed as tdist

    t = torch.tensor([float(value)], dtype=torch.float64, device=_collective_device())
    tdist.all_reduce(t)
    return float(t.item()) / dist.world_size


def _barrier(dist: Distributed) -> None:
    if dist.world_size > 1:
        import torch.distributed as tdist

        tdist.barrier()


def _collective_device():
    import torch
    import torch.distributed as tdist

    return torch.device("cuda", torch.cuda.current_device()) if tdist.get_backend() == "nccl" else torch.device("cpu")


class _StopRequest:
    """Ctrl-C asks for a stop after the step in flight; a second Ctrl-C stops at once (the last
    checkpoint is whole: saves are atomic). Every process must agree, or the others would wait
    forever in the next all-reduce."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        try:
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._ask)
        except ValueError:  # not the main thread: no handler, Ctrl-C works as it always does
            pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False

    def _ask(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signum, self._previous.get(signum, signal.default_int_handler))

    def agreed(self, dist: Distributed) -> bool:
        if dist.world_size == 1:
            return self.requested
        import torch
        import torch.distributed as tdist

        flag = torch.tensor([1 if self.requested else 0], device=_collective_device())
        tdist.all_reduce(flag, op=tdist.ReduceOp.MAX)
        return bool(flag.item())


def _keep_log_until(log: Path, step: int) -> None:
    try:
        lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError:
        return
    kept = [line for line in lines if _step_of(line) is not None and _step_of(line) <= step]
    tmp = log.with_suffix(".tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    tmp.replace(log)


def _step_of(line: str) -> Optional[int]:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None
