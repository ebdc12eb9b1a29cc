"""What one learner sees on one try of a reasoning check: its drawn numbers and its option order.

A parametrised check declares `params` (ranges or choices); the numbers are drawn from a seed made
of the workspace's learner id, the step, the check and the try (how many answers to that check are
already recorded). So the same learner sees the same numbers until they answer, a wrong answer
draws new ones, another learner sees others, and no text, help page or friend holds the answer.
The draw is recorded with the answer (`Draw.to_record`), so a contested answer can be replayed from
the record alone, even after the course changed its ranges.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from mentor.checks import expected_answer, fill
from mentor.curriculum import Check

LEARNER_FILE = "learner"  # in the workspace's .mentor/ folder
_REDRAWS = 20  # a new try looks for numbers (or an order) unlike the last try's, this many times at most


@dataclass
class Draw:
    """The numbers and the option order of one try; `params` empty and `order` as written for a fixed check."""

    learner: str
    step_id: str
    check_id: str
    try_number: int  # answers to this check recorded before this try
    params: dict[str, float] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    def to_record(self) -> dict:
        return {"learner": self.learner, "try": self.try_number, "params": self.params, "order": self.order}

    @classmethod
    def from_record(cls, step_id: str, check_id: str, record: dict) -> "Draw":
        return cls(record.get("learner", ""), step_id, check_id, int(record.get("try", 0)),
                   dict(record.get("params") or {}), list(record.get("order") or []))  # fmt: skip


def learner_id(state_dir: Path) -> str:
    """This workspace's learner id, made once (16 random hex digits) and kept in `.mentor/learner`.

    Two commands racing to make it agree: the file appears whole, by a hard link, or not at all.
    A workspace whose `.mentor` cannot be written gets an id derived from its path.
    """
    path = state_dir / LEARNER_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / f".{LEARNER_FILE}.{os.getpid()}.tmp"
        tmp.write_text(secrets.token_hex(8) + "\n", encoding="utf-8")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]


def _rng(learner: str, step_id: str, check_id: str, try_number: int, redraw: int) -> random.Random:
    key = f"{learner}\0{step_id}\0{check_id}\0{try_number}\0{redraw}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def _pick(check: Check, rng: random.Random) -> tuple[dict[str, float], list[int]]:
    params = {}
    for name in sorted(check.params or {}):
        value = rng.choice(check.params[name].values())
        params[name] = int(value) if float(value).is_integer() else value
    order = list(range(len(check.options)))
    rng.shuffle(order)
    return params, order


def draw(check: Check, learner: str, step_id: str, try_number: int) -> Draw:
    """The numbers and option order of try `try_number`: the same for the same inputs, new after a wrong answer."""
    if not check.params and not check.options:
        return Draw(learner, step_id, check.id, try_number)
    previous = _pick(check, _rng(learner, step_id, check.id, try_number - 1, 0)) if try_number > 0 else None
    for redraw in range(_REDRAWS):
        picked = _pick(check, _rng(learner, step_id, check.id, try_number, redraw))
        if picked != previous:
            break
    params, order = picked
    return Draw(learner, step_id, check.id, try_number, params, order)


def present(check: Check, d: Optional[Draw]) -> Check:
    """The check as this draw shows it: its numbers in the texts, its options in the drawn order."""
    if d is None:
        return check
    changes = {}
    if check.params:
        changes.update(ask=fill(check.ask, d.params), hint=fill(check.hint, d.params), explain=fill(check.explain, d.params))
    if check.options:
        order = d.order if sorted(d.order) == list(range(len(check.options))) else range(len(check.options))
        changes["choices"] = [fill(check.options[i].text, d.params) if check.params else check.options[i].text for i in order]
    return dataclasses.replace(check, **changes) if changes else check


def record_of(check: Check, d: Draw) -> dict:
    """What the store keeps beside an answer: the draw and the value it made right."""
    expected = expected_answer(check, d)
    if check.answer.choice is not None:
        expected = check.options[expected].text
    return {**d.to_record(), "expected": expected}
