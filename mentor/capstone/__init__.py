"""The capstone: the learner trains their own GPT, with their own files, at their machine's scale.

    plan_capstone(ws, course, profile, file)       -> Plan: parameters, tokens, memory, time
    train_capstone(ws, course, profile, file, ...) -> RunResult: a run in ws/capstone/<profile>/

config.py reads the configurations (curriculum/capstone.yaml), plan.py does the arithmetic,
components.py imports the learner's six files, data.py turns the text into their shards and
batches, run.py trains (one process or torchrun). Nothing is imported before a capstone command
runs, torch least of all: the everyday commands never pay for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from mentor.capstone.config import CapstoneConfig, load_configs


def resolve_config(ws, course, profile: Optional[str]) -> tuple[str, CapstoneConfig]:
    """The configuration asked for, else the one of the machine's profile (as `mentor check` picks it)."""
    from mentor.capstone.run import CapstoneError

    configs = load_configs(course.content_root, course.profiles)
    if profile is None:
        from mentor.hardware import resolve_target

        try:
            profile = resolve_target(course.profiles, None, ws.setting("target") if ws else None).profile
        except KeyError as e:
            raise CapstoneError(f"the workspace's target {e.args[0]!r} is not a profile ({', '.join(configs)})") from None
    if profile not in configs:
        raise CapstoneError(f"no capstone configuration {profile!r}: choose one of {', '.join(configs)}")
    return profile, configs[profile]


def read_text(config: CapstoneConfig, file: Optional[Path]) -> tuple[str, str]:
    """(text, a description of where it came from): the learner's file, else the course corpus."""
    from mentor.corpus import load_corpus

    text = load_corpus(file, max_bytes=None if file else config.corpus_bytes)
    if file:
        return text, str(Path(file).expanduser().resolve())
    return text, "default corpus (this Python installation's documentation)"


def plan_capstone(ws, course, profile: Optional[str] = None, file: Optional[Path] = None, world_size: int = 1):
    from mentor.capstone import data as capstone_data
    from mentor.capstone.plan import course_memory_module, make_plan, measured_throughput, text_info
    from mentor.capstone.run import LOG, run_dir_of

    name, config = resolve_config(ws, course, profile)
    text, source = read_text(config, file)
    run_dir = run_dir_of(ws.root, name) if ws else None
    info = text_info(text, source, config)
    counted = capstone_data.counted_tokens(run_dir, info.sha256) if run_dir else None
    if counted is not None:
        info = text_info(text, source, config, counted)
    measured = measured_throughput(run_dir / LOG) if run_dir else None
    memory = course_memory_module(course.content_root)
    return make_plan(name, config, course.profiles[config.machine], memory, info, world_size, measured_tokens_per_s=measured)


def train_capstone(
    ws,
    course,
    profile: Optional[str] = None,
    file: Optional[Path] = None,
    resume: bool = False,
    steps: Optional[int] = None,
    strict: bool = False,
    on_event: Callable[[str, dict], None] = lambda kind, info: None,
):
    """Start (or with `resume`, continue) the run of `profile` in ws/capstone/<profile>/, until step
    `steps` in all (default: the plan's last). Raises CapstoneError with what to do."""
    from mentor.capstone.components import ComponentError, load_components
    from mentor.capstone.plan import Plan
    from mentor.capstone.run import CHECKPOINT, PLAN, CapstoneError, cpu_threads, run_dir_of, start_distributed, train_run

    name, config = resolve_config(ws, course, profile)
    run_dir = run_dir_of(ws.root, name)
    checkpoint, plan_path = run_dir / CHECKPOINT, run_dir / PLAN
    shown = ws.display(run_dir)
    if steps is not None and steps < 1:
        raise CapstoneError(f"--steps {steps}: a run needs at least one step")
    if resume and not checkpoint.is_file():
        raise CapstoneError(f"nothing to resume: {shown} has no {CHECKPOINT}; start the run without --resume")
    if not resume and checkpoint.is_file():
        raise CapstoneError(
            f"{shown} holds a run already (its {CHECKPOINT}): continue it with `mentor capstone train --profile {name} "
            f"--resume`, or move that folder away to start afresh"
        )
    if course.profiles[config.machine].device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CapstoneError(f"the {name} configuration trains on a CUDA GPU and this machine has none: try --profile cpu-8gb")
    dist = start_distributed(course.profiles[config.machine].device)
    if resume:
        try:
            plan = Plan(**json.loads(plan_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as e:
            raise CapstoneError(f"{ws.display(plan_path)} cannot be read ({e}): the run cannot be resumed without its plan") from None
        source = plan.text["source"]
        text, _ = read_text(config, file or (Path(source) if Path(source).is_absolute() else None))
        from mentor.capstone.plan import text_info

        if text_info(text, source, config).sha256 != plan.text["sha256"]:
            raise CapstoneError(f"the text is not the one this run was trained on ({source}): resume with the same text")
        if plan.batch % dist.world_size:
            raise CapstoneError(f"the run's batch of {plan.batch} does not split over {dist.world_size} processes")
        plan.world_size = dist.world_size
    else:
        if config.batch % dist.world_size:
            raise CapstoneError(f"the batch of {config.batch} does not split over {dist.world_size} processes: run a divisor of it")
        text, _ = read_text(config, file)
        plan = plan_capstone(ws, course, name, file, dist.world_size)
    try:
        parts = load_components(ws.root, course.content_root, lambda f: [s.id for s in course.steps_sharing(f)], strict)
    except ComponentError as e:
        raise CapstoneError(f"{e}; without --strict the course's reference stands in for it") from None
    notes = [f"{s.why}; the course's reference stands in for it" for s in parts.sources.values() if s.why]
    if not plan.memory["fits"]:
        notes.append(f"the plan's memory estimate is {plan.memory['share']:.0%} of this profile's limit: the run may not fit")
    plan.components = parts.origins()
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        plan_path.write_text(json.dumps(plan.to_json(), indent=1) + "\n", encoding="utf-8")
        for note in notes:
            on_event("note", {"text": note})
    try:
        with cpu_threads(config.threads if plan.device == "cpu" else None):
            result = train_run(run_dir, plan, config, text, parts, dist, resume, steps, on_event)
    except (CapstoneError, KeyboardInterrupt):
        raise
    except Exception as e:
        raise _learner_failure(e, ws.root, name, checkpoint.is_file()) or e
    result.notes = notes
    return result


def _learner_failure(error: Exception, workspace_root: Path, profile: str, saved: bool):
    """A CapstoneError naming the learner's file and line the error came from; None when it is not theirs."""
    import traceback

    from mentor.capstone.run import CapstoneError

    root = workspace_root.resolve()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve().is_relative_to(root)]
    if not frames:
        return None
    f = frames[-1]
    where = Path(f.filename).resolve().relative_to(root)
    again = f"`mentor capstone train --profile {profile} --resume`: the last checkpoint is whole" if saved else "start the run again"
    return CapstoneError(
        f"{where}:{f.lineno} in {f.name}: {type(error).__name__}: {error}\n  {f.line}\n"
        f"Fix the file (its step's `mentor check` helps), then {again}."
    )
