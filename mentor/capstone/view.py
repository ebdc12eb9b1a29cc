"""The capstone on the terminal: the plan as a table, a run as a live progress bar.

On a terminal the bar shows step, tokens/s, loss and the time left; anywhere else (a pipe, a log
file, CI) a plain line every tenth of the run and at each evaluation, so a log reads line by line.
"""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from mentor import ui
from mentor.capstone.plan import describe_seconds


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def render_plan(plan) -> None:
    m = plan.model
    table = Table(title=f"Capstone plan: {plan.profile} — {plan.description}", show_header=False)
    table.add_row("model", f"{plan.params:,} parameters: d_model {m['d_model']}, {m['n_layers']} layers, "
                  f"{m['n_heads']} heads, context {m['block_size']}, vocabulary {m['vocab_size']:,}")  # fmt: skip
    table.add_row("batch", f"{plan.batch} × {plan.accum} accumulated × {m['block_size']} = {plan.tokens_per_step:,} tokens per step")
    table.add_row("steps", f"{plan.steps:,} ({plan.tokens_planned:,} tokens), lr {plan.schedule['max_lr']:g} → "
                  f"{plan.schedule['min_lr']:g} after {plan.schedule['warmup_steps']} warm-up steps")  # fmt: skip
    table.add_row("tokens wanted", f"{plan.tokens_wanted:,} (20 per parameter)")
    t = plan.text
    how = "counted with the run's tokenizer" if t["counted"] else f"estimated: {t['bytes']:,} bytes at the stated bytes per token"
    table.add_row("text", f"{t['source']}: {t['tokens']:,} tokens ({how})")
    table.add_row("shortfall", f"{plan.shortfall:,} tokens; {plan.epochs:g} passes over the text")
    mem = plan.memory
    verdict = "[green]fits[/]" if mem["fits"] else "[red]too much[/]: lower batch or block_size"
    table.add_row("memory", f"{_gb(mem['total'])} of {_gb(mem['limit'])} ({mem['share']:.0%}) {verdict}: weights "
                  f"{_gb(mem['weights'])}, grads {_gb(mem['grads'])}, AdamW {_gb(mem['optimizer'])}, master "
                  f"{_gb(mem['master'])}, activations {_gb(mem['activations'])} ({plan.dtype}, batch {mem['per_process_batch']})")  # fmt: skip
    rate = "measured by the last run" if plan.throughput_measured else "stated for this profile"
    table.add_row("time", f"{describe_seconds(plan.expected_seconds)} at {plan.tokens_per_s:,.0f} tokens/s ({rate})")
    ui.console.print(table)
    ui.console.print(Text(plan.advice))


class TrainDisplay:
    """on_event for train_capstone: a progress bar on a terminal, plain lines elsewhere."""

    def __init__(self):
        self.live = ui.console.is_terminal
        self.progress = None
        self.task = None
        self.every = 1
        self.last_eval = None

    def __call__(self, kind: str, info: dict) -> None:
        getattr(self, f"_on_{kind}")(info)

    def _on_note(self, info: dict) -> None:
        ui.console.print(Text(f"note: {info['text']}", style="yellow"))

    def _on_data(self, info: dict) -> None:
        what = {"tokenizer": "training your BPE tokenizer on the text (kept for later runs)", "shards": "writing your shards"}
        ui.console.print(Text(what[info["stage"]] + " ..."))

    def _on_start(self, info: dict) -> None:
        where = f"{info['world_size']} processes" if info["world_size"] > 1 else "1 process"
        ui.console.print(Text(f"training from step {info['step']} to {info['stop']} of {info['total']} on {info['device']} ({where})"))
        self.every = max(1, (info["stop"] - info["step"]) // 10)
        if self.live:
            self.progress = Progress(
                TextColumn("step"), MofNCompleteColumn(), BarColumn(),
                TextColumn("{task.fields[rate]:>8,.0f} tok/s  loss {task.fields[loss]:.4f}  val {task.fields[val]}"),
                TimeRemainingColumn(), console=ui.console,
            )  # fmt: skip
            self.task = self.progress.add_task("train", total=info["stop"], completed=info["step"], rate=0.0, loss=float("nan"), val="-")
            self.progress.start()

    def _on_step(self, info: dict) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=info["step"], rate=info["tokens_per_s"], loss=info["loss"])
        elif info["step"] % self.every == 0:
            val = f"  val {self.last_eval:.4f}" if self.last_eval is not None else ""
            ui.console.print(f"step {info['step']}  loss {info['loss']:.4f}{val}  {info['tokens_per_s']:,.0f} tok/s  lr {info['lr']:.2e}", highlight=False)

    def _on_eval(self, info: dict) -> None:
        self.last_eval = info["val_loss"]
        if self.progress is not None:
            self.progress.update(self.task, val=f"{info['val_loss']:.4f}")

    def _on_saved(self, info: dict) -> None:
        pass

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def render_result(result, ws, profile: str) -> None:
    shown = ws.display(result.run_dir)
    if result.interrupted:
        ui.console.print(Text(f"stopped at step {result.step} of {result.total_steps}; the checkpoint is saved in {shown}.", style="bold"))
        ui.console.print(Text(f"Resume with: mentor capstone train --profile {profile} --resume"))
        return
    val = f", val loss {result.val_loss:.4f}" if result.val_loss is not None else ""
    rate = f", {result.tokens_per_s:,.0f} tokens/s" if result.tokens_per_s else ""
    ui.console.print(Text(f"step {result.step} of {result.total_steps}: train loss {result.train_loss:.4f}{val}{rate}", style="bold"))
    ui.console.print(Text(f"checkpoint, log.jsonl, plan.json and tokenizer.json in {shown}"))
    if result.step < result.total_steps:
        ui.console.print(Text(f"Continue with: mentor capstone train --profile {profile} --resume"))
