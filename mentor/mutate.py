"""Mutation testing of the graders: how many plausible wrong versions of a step does its grader catch?

A catalogue of known-wrong implementations measures the mistakes its author thought of. Here the
reference solution itself is mutated, one small change at a time (an operator swapped, a constant
off by one, an axis changed, a term dropped, a keyword argument such as `keepdims` removed, an
`.detach()` or `.float()` dropped, a pure operation made in-place, a dtype changed), and the step's
grader runs on every mutant as if a learner had handed it in. A mutant the grader passes either
behaves exactly like the reference (equivalent: triaged by a person and listed, with the reason, in
`tests/mutation/equivalent.yaml`) or is a mistake the grader cannot see.

Only what the step asks the learner to write is mutated: the top-level functions and class methods
whose stub body raises NotImplementedError, restricted to the step's `defines` in a shared file.
Given code, other steps' code, docstrings and strings are left alone. Mutations are made on the
syntax tree (the `ast` module): the mutation-testing libraries (mutmut, cosmic-ray) mutate a project
in place and run its whole test command, while a grader judges one file in a subprocess of its own.

Results are kept per mutant in a cache keyed by the grader, the reference and the mutant's source,
so an interrupted run resumes where it stopped and an unchanged step is not graded again.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from mentor.authoring import threads_per_grader
from mentor.curriculum import Course, Step

EQUIVALENT_FILE = Path("tests") / "mutation" / "equivalent.yaml"

_BINOP_SWAPS = {
    ast.Add: [ast.Sub, ast.Mult],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div, ast.Add],
    ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Div],
    ast.Pow: [ast.Mult],
    ast.MatMult: [ast.Mult],
    ast.Mod: [ast.FloorDiv],
}
_COMPARE_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
# Calls whose removal leaves the receiver: a copy, a cast, a detach or a mode switch forgotten.
_DROPPABLE_METHODS = {"detach", "clone", "copy", "float", "double", "half", "contiguous", "eval", "train", "item", "astype", "to", "type_as"}
# Pure tensor methods with an in-place twin: the in-place version changes the caller's tensor.
_INPLACE_TWINS = {"add", "sub", "mul", "div", "exp", "log", "clamp", "neg", "abs", "sqrt", "rsqrt", "pow", "masked_fill", "fill", "zero", "tanh", "sigmoid", "relu", "softmax", "transpose", "t"}
_INPLACE_TWINS -= {"softmax"}  # no in-place softmax exists
_DTYPE_SWAPS = {"float64": "float32", "float32": "float16", "float16": "float32", "bfloat16": "float16", "double": "float", "int64": "int32", "long": "int"}


@dataclass
class Mutant:
    step_id: str
    key: str  # stable across runs: "where: `before` -> `after`", with "#n" for repeats
    line: int  # in the reference solution
    before: str
    after: str
    source: str  # the whole mutated module

    def diff(self, original: str) -> str:
        lines = difflib.unified_diff(original.splitlines(), self.source.splitlines(), "reference", "mutant", n=1, lineterm="")
        return "\n".join(list(lines)[2:])


@dataclass
class StepScore:
    step_id: str
    generated: int = 0
    equivalent: int = 0
    killed: int = 0
    survived: int = 0
    unjudged: int = 0  # the grader itself failed (a course error, a seal disturbed, Ctrl-C): no verdict
    survivors: list[dict] = field(default_factory=list)  # key, line, diff
    unjudged_mutants: list[dict] = field(default_factory=list)  # key, status
    unused_equivalents: list[str] = field(default_factory=list)  # listed, but no such mutant now
    error: str = ""  # the reference itself did not pass

    @property
    def kill_rate(self) -> Optional[float]:
        judged = self.generated - self.equivalent  # an unjudged mutant counts against the rate until judged
        return self.killed / judged if judged else None

    def to_dict(self) -> dict:
        return {**asdict(self), "kill_rate": self.kill_rate}


# -- which code the step asks for -------------------------------------------------------------------
def _raises_not_implemented(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise) and sub.exc is not None:
            exc = sub.exc.func if isinstance(sub.exc, ast.Call) else sub.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def asked_definitions(stub_source: str, defines: Optional[list[str]] = None) -> set[str]:
    """Qualified names the learner writes: "func" or "Class.method", as the stub leaves them to do."""
    asked = set()
    for node in ast.parse(stub_source).body:
        if defines is not None and getattr(node, "name", None) not in defines:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _raises_not_implemented(node):
            asked.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _raises_not_implemented(item):
                    asked.add(f"{node.name}.{item.name}")
    return asked


def _target_functions(tree: ast.Module, asked: set[str]) -> Iterator[tuple[str, ast.AST]]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in asked:
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                name = f"{node.name}.{getattr(item, 'name', '')}"
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in asked:
                    yield name, item


# -- mutation operators -----------------------------------------------------------------------------
def _replacements(node: ast.AST) -> Iterator[ast.AST]:
    """Every single-change variant of `node` (new nodes; `node` itself is not changed)."""
    if isinstance(node, ast.BinOp):
        for op in _BINOP_SWAPS.get(type(node.op), []):
            yield ast.BinOp(node.left, op(), node.right)
        yield node.left  # a dropped term
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            yield node.right
    elif isinstance(node, ast.AugAssign):
        for op in _BINOP_SWAPS.get(type(node.op), []):
            yield ast.AugAssign(node.target, op(), node.value)
        yield ast.Assign([copy.deepcopy(node.target)], node.value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        yield node.operand
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAPS:
        yield ast.Compare(node.left, [_COMPARE_SWAPS[type(node.ops[0])]()], node.comparators)
    elif isinstance(node, ast.BoolOp):
        yield ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)
    elif isinstance(node, ast.IfExp):
        yield node.body
        yield node.orelse
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield ast.Constant(node.value + 1)
        yield ast.Constant(node.value - 1)
    elif isinstance(node, ast.Constant) and type(node.value) is float:
        yield ast.Constant(node.value * 2 if node.value else 1.0)
        if node.value:
            yield ast.Constant(0.0)
    elif isinstance(node, ast.Call):
        func = node.func
        for i in range(len(node.keywords)):  # the default of one keyword argument instead
            if node.keywords[i].arg is not None:
                yield ast.Call(func, node.args, node.keywords[:i] + node.keywords[i + 1 :])
        if isinstance(func, ast.Attribute) and func.attr in _DROPPABLE_METHODS:
            yield func.value
        if isinstance(func, ast.Attribute) and func.attr in _INPLACE_TWINS:
            yield ast.Call(ast.Attribute(func.value, func.attr + "_", ast.Load()), node.args, node.keywords)
    elif isinstance(node, ast.Attribute) and node.attr in _DTYPE_SWAPS and isinstance(node.value, ast.Name):
        yield ast.Attribute(node.value, _DTYPE_SWAPS[node.attr], node.ctx)


def _is_docstring(parent: ast.AST, node: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return isinstance(node, ast.Expr) and isinstance(body, list) and body and body[0] is node and isinstance(getattr(node, "value", None), ast.Constant)


def _slots(func: ast.AST) -> list[tuple[ast.AST, str, Optional[int], ast.AST]]:
    """(parent, field, index, node) of every node inside `func`'s body, in a fixed order."""
    out = []

    def visit(parent: ast.AST) -> None:
        for name, value in ast.iter_fields(parent):
            items = value if isinstance(value, list) else [value]
            for i, child in enumerate(items):
                if not isinstance(child, ast.AST) or _is_docstring(parent, child):
                    continue
                if isinstance(child, (ast.JoinedStr, ast.expr_context, ast.operator, ast.cmpop, ast.boolop, ast.unaryop)):
                    continue  # messages are not mutated; operators change through their node
                if isinstance(parent, ast.Raise):
                    continue  # an exception's message and type
                out.append((parent, name, i if isinstance(value, list) else None, child))
                visit(child)

    for name in ("body",):
        for i, stmt in enumerate(getattr(func, name)):
            if _is_docstring(func, stmt):
                continue
            out.append((func, name, i, stmt))
            visit(stmt)
    return out


def _put(parent: ast.AST, field_name: str, index: Optional[int], new: ast.AST) -> None:
    if index is None:
        setattr(parent, field_name, new)
    else:
        getattr(parent, field_name)[index] = new


def _segment(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # a statement list or an odd node: the key still stays unique by its count
        return type(node).__name__


def generate_mutants(step_id: str, reference_source: str, asked: set[str]) -> list[Mutant]:
    """Every single-change mutant of the asked definitions that still compiles, in source order.

    Each change is made in the one parsed tree and undone after its source is written, so a module
    of n nodes costs n unparses, not n copies of the tree."""
    tree = ast.parse(reference_source)
    unchanged = ast.unparse(tree)
    mutants, seen = [], {}
    for qualname, func in list(_target_functions(tree, asked)):
        for parent, field_name, index, target in _slots(func):
            for replacement in list(_replacements(target)):
                if isinstance(target, ast.stmt) and not isinstance(replacement, ast.stmt):
                    continue
                before, after = _segment(target), _segment(replacement)
                _put(parent, field_name, index, replacement)
                try:
                    source = ast.unparse(ast.fix_missing_locations(tree))
                    compile(source, "<mutant>", "exec")
                except (SyntaxError, ValueError, TypeError):
                    continue
                finally:
                    _put(parent, field_name, index, target)
                if source == unchanged:
                    continue
                base = f"{qualname}: `{_short(before)}` -> `{_short(after)}`"
                seen[base] = seen.get(base, 0) + 1
                key = base if seen[base] == 1 else f"{base} #{seen[base]}"
                mutants.append(Mutant(step_id, key, getattr(target, "lineno", 0), before, after, source))
    return mutants


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- running a step's mutants -----------------------------------------------------------------------
def read_equivalents(content_root: Path) -> dict[str, dict[str, str]]:
    """step id -> {mutant key: why it behaves exactly like the reference}."""
    path = content_root / EQUIVALENT_FILE
    if not path.is_file():
        return {}
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {step: {e["mutant"]: e["reason"] for e in entries or []} for step, entries in data.items()}


def step_mutants(course: Course, step: Step) -> tuple[str, list[Mutant]]:
    """The reference's own source (as `ast.unparse` writes it) and the step's mutants."""
    from mentor.workspace import pristine_stub

    stub = pristine_stub(course, step).decode("utf-8")
    asked = asked_definitions(stub, step.defines)
    reference = (course.content_root / step.solution).read_text(encoding="utf-8")
    return ast.unparse(ast.parse(reference)), generate_mutants(step.id, reference, asked)


Grade = Callable[[Step, Path, Path, float], str]  # (step, file, cwd, timeout) -> grader status

# What a learner handing in the mutant would see as a rejection: a failed test, a timeout, memory over
# the cap, a crash, a file that does not import ("load_error"), or nothing done. Any other status
# ("error": the grader could not run; "tampered": a seal did not hold, e.g. the course changed
# mid-run; "interrupted") is no verdict on the mutant: counted apart and never cached.
REJECTED = {"failed", "timeout", "memory", "crashed", "load_error", "not_started"}


def _grade_status(course: Course, threads: int) -> Grade:
    from mentor.grading.runner import GradeRequest, grade

    def run(step: Step, submission: Path, cwd: Path, timeout_s: float) -> str:
        req = GradeRequest(
            grader=step.grader, submission=submission, reference=course.content_root / step.solution, cwd=cwd,
            timeout_s=timeout_s, memory_mb=course.memory_for(step, ""), budget=course.budget_for(step, ""), threads=threads,
        )  # fmt: skip
        result = grade(req)
        return "load_error" if result.status == "error" and result.where else result.status

    return run


def _write_submission(course: Course, step: Step, source: str, dest: Path) -> Path:
    """`source` as the learner's file of `step` in `dest`, beside the reference's sibling modules."""
    solution = course.content_root / step.solution
    for sibling in solution.parent.glob("*.py"):
        if sibling.name != solution.name:
            shutil.copy(sibling, dest / sibling.name)
    path = dest / Path(step.exercise).name
    path.write_text(source, encoding="utf-8")
    return path


class ResultCache:
    """Mutant verdicts on disk, keyed by what decides them; written after each one, so Ctrl-C loses one."""

    def __init__(self, path: Optional[Path]):
        self.path = path
        self.data: dict[str, str] = {}
        self._lock = threading.Lock()  # mutants are graded on several threads
        if path and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}

    @staticmethod
    def key(course: Course, step: Step, source: str) -> str:
        from mentor.paths import GRADERS_DIR

        h = hashlib.sha256(source.encode())
        for path in (GRADERS_DIR / step.grader_file, course.content_root / step.solution):
            h.update(path.read_bytes())
        return h.hexdigest()

    def get(self, key: str) -> Optional[str]:
        return self.data.get(key)

    def put(self, key: str, status: str) -> None:
        with self._lock:
            self._put(key, status)

    def _put(self, key: str, status: str) -> None:
        self.data[key] = status
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data), encoding="utf-8")
            os.replace(tmp, self.path)


def default_cache_path() -> Path:
    base = os.environ.get("MENTOR_CACHE_DIR") or Path.home() / ".cache" / "mentor"
    return Path(base) / "mutants.json"


def score_step(
    course: Course,
    step: Step,
    equivalents: dict[str, str],
    cache: ResultCache,
    grade: Optional[Grade] = None,
    workers: int = 2,
    on_mutant: Callable[[Mutant, str], None] = lambda m, status: None,
    built: Optional[tuple[str, list[Mutant]]] = None,
) -> StepScore:
    """Grade every mutant of `step` (after its reference, which must pass) and count the survivors.

    `built`: the step's (reference source, mutants) when the caller has already made them."""
    grade = grade or _grade_status(course, threads_per_grader(workers))
    score = StepScore(step.id)
    original, mutants = built or step_mutants(course, step)
    score.generated = len(mutants)
    score.unused_equivalents = sorted(set(equivalents) - {m.key for m in mutants})
    with tempfile.TemporaryDirectory(prefix="mentor-mutate-") as tmp:
        ref_dir = Path(tmp) / "reference"
        ref_dir.mkdir()
        start = time.perf_counter()
        status = grade(step, _write_submission(course, step, original, ref_dir), ref_dir, course.timeout_for(step))
        if status != "passed":
            score.error = f"the reference itself graded {status}: mutants cannot be judged"
            return score
        # A mutant that loops or crawls is a caught mistake: the learner would see a timeout.
        timeout_s = min(course.timeout_for(step), max(10.0, 4 * (time.perf_counter() - start)))

        def judge(indexed: tuple[int, Mutant]) -> str:
            i, mutant = indexed
            key = cache.key(course, step, mutant.source)
            status = cache.get(key)
            if status is None:
                folder = Path(tmp) / f"m{i}"
                folder.mkdir()
                status = grade(step, _write_submission(course, step, mutant.source, folder), folder, timeout_s)
                if status in REJECTED or status == "passed":
                    cache.put(key, status)
            on_mutant(mutant, status)
            return status

        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = list(pool.map(judge, enumerate(mutants)))
    for mutant, status in zip(mutants, statuses):
        if status in REJECTED:
            score.killed += 1
        elif status != "passed":
            score.unjudged += 1
            score.unjudged_mutants.append({"key": mutant.key, "status": status})
        elif mutant.key in equivalents:
            score.equivalent += 1
        else:
            score.survived += 1
            score.survivors.append({"key": mutant.key, "line": mutant.line, "diff": mutant.diff(original)})
    return score


def mutate_course(
    course: Course,
    steps: list[Step],
    grade: Optional[Grade] = None,
    cache_path: Optional[Path] = None,
    workers: int = 2,
    on_mutant: Callable[[Mutant, str], None] = lambda m, status: None,
    on_step: Callable[[Step, int], None] = lambda step, n: None,
) -> list[StepScore]:
    equivalents = read_equivalents(course.content_root)
    cache = ResultCache(cache_path)
    scores = []
    for step in steps:
        built = step_mutants(course, step)
        on_step(step, len(built[1]))
        scores.append(score_step(course, step, equivalents.get(step.id, {}), cache, grade, workers, on_mutant, built))
    return scores


def totals(scores: list[StepScore]) -> dict:
    out = {k: sum(getattr(s, k) for s in scores) for k in ("generated", "equivalent", "killed", "survived", "unjudged")}
    judged = out["generated"] - out["equivalent"]
    return {**out, "kill_rate": out["killed"] / judged if judged else None}
