"""Restore some top-level definitions of a Python file from another version of it, keeping the rest.

Several steps can share one exercise file (attention.py holds three steps' functions). Resetting
one step must put back that step's stub functions and classes and leave every other line of the
learner's file as it was, mastered code of other steps included.
"""

from __future__ import annotations

import ast


def _definitions(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Top-level name -> (first line, last line), 1-based, decorators included."""
    spans = {}
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            spans[node.name] = (first, node.end_lineno)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    spans[target.id] = (first, node.end_lineno)
    return spans


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def replace_definitions(current: str, original: str, names: list[str]) -> str:
    """`current` with each of `names` as `original` defines it; raises SyntaxError if either does not parse.

    A definition missing from `current` is appended; an import the restored code needs and
    `current` lacks is added after its last top-level import.
    """
    ours, theirs = ast.parse(current), ast.parse(original)
    mine_spans, stub_spans = _definitions(ours), _definitions(theirs)
    stub_lines, lines = original.splitlines(keepends=True), current.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"

    def block(name: str) -> list[str]:
        first, last = stub_spans[name]
        return stub_lines[first - 1 : last]

    for name in sorted((n for n in names if n in mine_spans), key=lambda n: -mine_spans[n][0]):
        first, last = mine_spans[name]
        lines[first - 1 : last] = block(name)
    for name in (n for n in names if n not in mine_spans):
        lines += ["\n", "\n", *block(name)]

    bound = set().union(*(_bound_names(n) for n in ours.body), mine_spans)
    missing_imports = [n for n in theirs.body if _bound_names(n) and not _bound_names(n) <= bound]
    if missing_imports:
        after = max((n.end_lineno for n in ours.body if _bound_names(n)), default=_docstring_end(ours))
        added = [line for n in missing_imports for line in stub_lines[n.lineno - 1 : n.end_lineno]]
        lines[after:after] = added
    return "".join(lines)


def _docstring_end(tree: ast.Module) -> int:
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno
    return 0
