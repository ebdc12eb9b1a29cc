"""The learner's own files, imported by path from the workspace the way a grader loads a submission.

Each part of the capstone is one exercise file: the BPE trainer and tokenizer and the GPT of Phase 2,
AdamW and its schedule of Phase 3, the shards and the training loop of Phase 4. A part is tried on a
toy input before the run (a probe): a file that is missing, still a stub (NotImplementedError) or
failing is replaced by the course's reference for that part, and the run says which file, why, and
which step finishes it. `strict` refuses instead. The run records whose file each part came from.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

EOT = "<|endoftext|>"
YOURS, COURSE = "yours", "course"


class ComponentError(Exception):
    """A part of the learner's that cannot be used, under --strict; the message names the file."""


@dataclass(frozen=True)
class Part:
    key: str
    exercise: str  # relative to the workspace, and to the course's solutions/ folder as exercises/
    probe: Callable  # probe(module) raises when the file cannot do its part


@dataclass
class Source:
    module: object
    owner: str  # YOURS or COURSE
    file: str
    why: str = ""  # why the course's reference stands in


def _probe_bpe_train(m) -> None:
    merges = m.train_bpe("low lower lowest low low", 2)
    if len(merges) != 2 or not all(len(pair) == 2 for pair in merges):
        raise ValueError(f"train_bpe(text, 2) returned {merges!r}: expected two (id, id) pairs")


def _probe_bpe_tokenizer(m) -> None:
    tok = m.BPETokenizer([(108, 111)], [EOT])
    text = "lo, hello" + EOT
    ids = tok.encode(text)
    if tok.decode(ids) != text or tok.encode(EOT) != [257]:
        raise ValueError("BPETokenizer does not round-trip 'lo, hello<|endoftext|>' with the special token as id 257")


def _probe_gpt(m) -> None:
    import torch

    model = m.GPT(m.GPTConfig(vocab_size=32, block_size=8, d_model=8, n_layers=1, n_heads=2))
    idx = torch.randint(32, (2, 8), generator=torch.Generator().manual_seed(0))
    logits, loss = model(idx, idx)
    loss.backward()
    if tuple(logits.shape) != (2, 8, 32):
        raise ValueError(f"GPT returned logits of shape {tuple(logits.shape)} for (2, 8) ids and vocab 32; expected (2, 8, 32)")


def _probe_adamw(m) -> None:
    import torch

    layer = torch.nn.Linear(3, 2)
    optimizer = m.AdamW(m.param_groups_for(layer, 0.1), lr=1e-3)
    layer(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    m.lr_at(0, 1e-3, 2, 10, 1e-4)


def _probe_data(m) -> None:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        documents = [f"document {i}: " + "some words " * 8 for i in range(40)]
        m.write_shards(documents, lambda s: list(s.encode("utf-8")), tmp, vocab_size=256, val_fraction=0.2, eot=0)
        x, y = m.TokenDataset(tmp, "train").get_batch(2, 8, torch.Generator().manual_seed(0))
        if tuple(x.shape) != (2, 8) or not torch.equal(x[:, 1:], y[:, :-1]):
            raise ValueError("TokenDataset.get_batch(2, 8, ...) did not give (2, 8) windows with y = x shifted by one")


def _probe_train(m) -> None:
    import torch

    from mentor.lab import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=16, block_size=8, d_model=8, n_layers=1, n_heads=2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        x = torch.randint(16, (2, 8), generator=g)
        return x, x

    m.train_step(model, optimizer, get_batch, 2, max_norm=1.0)
    m.evaluate(model, get_batch, 1)
    with tempfile.TemporaryDirectory() as tmp:
        m.log_line(Path(tmp) / "log.jsonl", step=1)
        m.save_checkpoint(str(Path(tmp) / "ckpt.pt"), model, optimizer, scheduler, 1, {"served": 1})
        step, data = m.load_checkpoint(str(Path(tmp) / "ckpt.pt"), model, optimizer, scheduler)
        if step != 1 or data != {"served": 1}:
            raise ValueError(f"load_checkpoint gave back step {step!r} and data {data!r}; saved 1 and {{'served': 1}}")


PARTS = (
    Part("bpe_train", "exercises/phase2/bpe_train.py", _probe_bpe_train),
    Part("bpe_tokenizer", "exercises/phase2/bpe_tokenizer.py", _probe_bpe_tokenizer),
    Part("gpt", "exercises/phase2/gpt.py", _probe_gpt),
    Part("adamw", "exercises/phase3/adamw.py", _probe_adamw),
    Part("data", "exercises/phase4/data.py", _probe_data),
    Part("train", "exercises/phase4/train.py", _probe_train),
)


@dataclass
class Components:
    """The six parts a run uses, each from the learner's file or the course's reference."""

    sources: dict[str, Source]

    def __getattr__(self, name: str):
        if name == "sources":
            raise AttributeError(name)
        module = self.sources[_OWNER_OF[name]].module
        return getattr(module, name)

    def origins(self) -> dict[str, str]:
        """part -> "yours" or "course: <why>", for the plan a run keeps."""
        return {k: s.owner if s.owner == YOURS else f"{COURSE}: {s.why}" for k, s in self.sources.items()}


_OWNER_OF = {
    "train_bpe": "bpe_train",
    "BPETokenizer": "bpe_tokenizer",
    "GPT": "gpt",
    "GPTConfig": "gpt",
    "AdamW": "adamw",
    "param_groups_for": "adamw",
    "lr_at": "adamw",
    "write_shards": "data",
    "TokenDataset": "data",
    "train_step": "train",
    "evaluate": "train",
    "log_line": "train",
    "save_checkpoint": "train",
    "load_checkpoint": "train",
}


def load_components(workspace_root: Path, content_root: Path, steps_of: Callable[[str], list[str]], strict: bool = False) -> Components:
    """Every part from the workspace where it works, else from the course (or ComponentError when strict)."""
    sources = {}
    for part in PARTS:
        path = workspace_root / part.exercise
        try:
            sources[part.key] = Source(_import_and_probe(path, part, "yours"), YOURS, part.exercise)
            continue
        except Exception as e:  # whatever the learner's file does, the run either stands in for it or stops
            why = _why(e, path, part, steps_of)
        if strict:
            raise ComponentError(why)
        reference = content_root / "solutions" / Path(part.exercise).relative_to("exercises")
        sources[part.key] = Source(_import_and_probe(reference, part, "course"), COURSE, part.exercise, why)
    return Components(sources)


def _import_and_probe(path: Path, part: Part, owner: str):
    from mentor.grading.plugin import load_module_from

    if not path.is_file():
        raise FileNotFoundError(str(path))
    # a name of its own per owner: the learner's `gpt` and the course's never share sys.modules
    module = load_module_from(str(path), f"capstone_{owner}_{part.key}", isolate=True)
    part.probe(module)
    return module


def _why(error: Exception, path: Path, part: Part, steps_of: Callable[[str], list[str]]) -> str:
    steps = steps_of(part.exercise)
    finish = f" (`mentor check {steps[0]}`)" if steps else ""
    if isinstance(error, FileNotFoundError) and str(error) == str(path):
        reset = f": `mentor reset {steps[0]}` puts its stub back" if steps else ""
        return f"{part.exercise} is missing{reset}"
    if isinstance(error, NotImplementedError):
        where = _learner_frame(error, path.parent)
        name = f"{where.name} " if where else ""
        return f"{part.exercise} is not done yet: {name}raises NotImplementedError{finish}"
    where = _learner_frame(error, path.parent)
    line = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{part.exercise} fails on a toy input{line}: {type(error).__name__}: {error}{finish}"


def _learner_frame(error: BaseException, folder: Path):
    """The innermost frame of the traceback inside the learner's folder."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve().parent == folder.resolve()]
    return frames[-1] if frames else None


def workspace_with_references(dest: Path, course):
    """A fresh workspace whose exercise files are the course's references: a learner who has done
    everything, for the tests and benchmarks of the capstone (never shown to a learner)."""
    from mentor.workspace import init_workspace

    ws = init_workspace(dest, course)
    for step in course.steps:
        reference = course.content_root / "solutions" / Path(step.exercise).relative_to("exercises")
        if reference.is_file():
            (ws.root / step.exercise).write_bytes(reference.read_bytes())
    return ws
