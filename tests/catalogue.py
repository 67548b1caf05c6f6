"""The reliability catalogue (`../shared/RELIABILITY.md`) and the tests that carry its line IDs.

One reader for three callers: `tests/conftest.py` refuses a `@pytest.mark.catalogue(...)` naming a
line the catalogue does not have, `tests/test_catalogue.py` checks which lines have tests, and
`tests/catalogue_table.py` (`make reliability`) prints the line → tests table. The marks are read
from the test files' syntax trees, never by importing them: that stays fast and needs no fixtures.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
# shared/ sits beside the repository, in a checkout as in CI's clean clone.
CATALOGUE = REPO.parent / "shared" / "RELIABILITY.md"

MARK = "catalogue"
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LINE = re.compile(r"^- ([A-Z]\d+) — (.+)$")


def read_catalogue(path: Path = CATALOGUE) -> dict[str, str]:
    """Each line of the catalogue by its ID (`A1`, ..., `S6`), in the file's order.

    Raises FileNotFoundError with the expected place when shared/ is not beside the repository,
    and ValueError when an ID appears twice.
    """
    if not path.is_file():
        raise FileNotFoundError(f"the reliability catalogue is not at {path} (shared/ sits beside the repo)")
    lines: dict[str, str] = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        found = _LINE.match(text.strip())
        if not found:
            continue
        line_id, what = found.groups()
        if line_id in lines:
            raise ValueError(f"{path}: {line_id} appears twice")
        lines[line_id] = what
    return lines


def _is_mark(node: ast.AST) -> TypeGuard[ast.Call]:
    """`pytest.mark.catalogue(...)` (or `mark.catalogue(...)` after `from pytest import mark`)."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr != MARK:
        return False
    owner = node.func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )


def _pytestmark(body: list[ast.stmt]) -> list[ast.expr]:
    """The values of `pytestmark = ...` in a module or class body."""
    return [
        stmt.value
        for stmt in body
        if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in stmt.targets)
    ]


def _tests(tree: ast.Module) -> Iterator[tuple[str, list[ast.expr]]]:
    """Each test function pytest collects from a module, with every expression its marks come from:
    the module's `pytestmark`, its class's decorators and `pytestmark`, its own decorators."""
    module = _pytestmark(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            inherited = module + node.decorator_list + _pytestmark(node.body)
            for member in node.body:
                if isinstance(member, _FUNCTIONS) and member.name.startswith("test"):
                    yield f"{node.name}::{member.name}", inherited + member.decorator_list
        elif isinstance(node, _FUNCTIONS) and node.name.startswith("test"):
            yield node.name, module + node.decorator_list


def _marks(expression: ast.expr) -> list[ast.Call]:
    """The catalogue marks in a decorator or a `pytestmark` value (one mark or a list of them)."""
    items = expression.elts if isinstance(expression, (ast.List, ast.Tuple)) else [expression]
    return [item for item in items if _is_mark(item)]


def _literal_ids(mark: ast.Call) -> list[str] | None:
    """The IDs a mark names, or None unless they are all plain strings (what this reader can see)."""
    ids = [a.value for a in mark.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return ids if ids and len(ids) == len(mark.args) and not mark.keywords else None


def marked_tests(root: Path = TESTS) -> tuple[dict[str, list[str]], list[str]]:
    """Line ID → the tests marked with it (`server/test_load.py::test_x`, `...::TestClass::test_y`),
    and the problems found: a mark whose IDs are not plain strings, or one on something pytest does
    not collect as a test (a helper, a fixture), which would otherwise count for nothing."""
    tests: dict[str, list[str]] = {}
    problems: list[str] = []
    for path in sorted(root.rglob("test_*.py")):
        where = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        used: set[ast.Call] = set()
        for name, expressions in _tests(tree):
            ids: dict[str, None] = {}
            for mark in (m for e in expressions for m in _marks(e)):
                used.add(mark)
                ids.update(dict.fromkeys(_literal_ids(mark) or []))
            for line_id in ids:
                tests.setdefault(line_id, []).append(f"{where}::{name}")
        for node in sorted((n for n in ast.walk(tree) if _is_mark(n)), key=lambda n: n.lineno):
            if node not in used:
                problems.append(f"{where}:{node.lineno}: a catalogue mark on what pytest collects as no test")
            elif _literal_ids(node) is None:
                problems.append(f"{where}:{node.lineno}: catalogue() takes line IDs as plain strings: 'A4'")
    return tests, problems
