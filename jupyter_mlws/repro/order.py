"""Out-of-order reads: a `%%mlrun` cell that uses a name last set by a cell below it, or by a cell
since edited or deleted.

Who calls it: the IPython extension (`notebook/session.py` keeps an `OrderTracker` per kernel and
feeds it every cell the user ran; `notebook/mlrun.py` asks it about a `%%mlrun` cell before the cell
runs, puts the answer on the run card and in the run tag `mlws.out_of_order`).

Decisions:

- Static analysis only (`ast`), as the issue asks and as hidden-state linters (nbsafety, Julynter)
  begin: a cell *writes* the names it binds at its top level (assignments, augmented assignments,
  ``for``/``with``/``except`` targets, imports, ``def``/``class``, walrus, ``global`` in functions)
  and *reads* the names it loads before binding them, inside function bodies too (a function defined
  in the cell reads its free names when it runs, usually in the same cell), builtins left out.
  A cell that is not plain Python is read as its body when it is a cell magic whose body is Python
  (``%%mlrun``, ``%%time``: what it sets counts), else through IPython's own transformer (line
  magics and ``!`` become calls); a cell that still does not parse reads and writes nothing.
- The notebook as the check sees it is the saved file (positions and sources by cell id, and when it
  was saved), plus the cells JupyterLab reports as deleted in the execute request (``deletedCells``).
  A writer is *deleted* when JupyterLab says so, or when a save made after it ran lacks it; *edited*
  when a save made after it ran holds another source for it; *below* when the save puts it below
  the `%%mlrun` cell. A change not saved yet is not seen: the one-line warning says "as saved".
- A name last written by the `%%mlrun` cell itself (a re-run that reads its own earlier value) is not
  reported: that is iteration, not order.
- Cost: each distinct source is analysed once (cached; ~0.1 ms for a five-line cell that is plain
  Python, ~0.4 ms through IPython's transformer). A kernel pays nothing but a list append per cell
  until its first `%%mlrun` cell, whose check analyses the cells run before it; from then on each
  cell is analysed as it ends (`catch_up`), so a check reads only its own cell and looks names up.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .history import PYTHON_CELL_MAGICS

__all__ = ["OrderTracker", "OutOfOrder", "cell_names", "describe", "tag_value"]

TAG = "mlws.out_of_order"
_BUILTINS = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "_", "__", "___"}


def _digest(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()


def _python(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - the extension always runs under IPython
        return source
    try:
        return str(TransformerManager().transform_cell(source))  # type: ignore[no-untyped-call]
    except Exception:
        return source


class _ComprehensionScope(set[str]):
    """The scope of a comprehension's own variables (a walrus inside binds outside it)."""


class _Names(ast.NodeVisitor):
    """Reads before writes at the top level; free names of nested function bodies count as reads."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self._scopes: list[set[str]] = []  # locals of the functions being visited

    def _bind(self, name: str) -> None:
        (self._scopes[-1] if self._scopes else self.writes).add(name)

    def _bound(self, name: str) -> bool:
        return any(name in scope for scope in self._scopes) or name in self.writes

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if not self._bound(node.id) and node.id not in _BUILTINS:
                self.reads.add(node.id)
        else:
            self._bind(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the value is read before the targets are bound
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            if not self._bound(node.target.id) and node.target.id not in _BUILTINS:
                self.reads.add(node.target.id)  # `x += 1` reads x
            self._bind(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self.writes.add(name)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
            self._bind(node.name)
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        local = params | _assigned_in(node)
        self._scopes.append(local)
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)
        self._scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self._bind(node.name)
        self._scopes.append(set())
        for statement in node.body:
            self.visit(statement)
        self._scopes.pop()

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self._scopes.append(_ComprehensionScope())
        for number, generator in enumerate(node.generators):
            if number:
                self.visit(generator.iter)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self._scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # type: ignore[assignment]

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        # PEP 572: the target binds in the enclosing function (or the cell), not the comprehension
        target = node.target.id
        for scope in reversed(self._scopes):
            if not isinstance(scope, _ComprehensionScope):
                scope.add(target)
                return
        self.writes.add(target)


def _assigned_in(function: ast.AST) -> set[str]:
    """Names a function body binds (its locals), not descending into nested functions."""
    found: set[str] = set()
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.difference_update(node.names)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _tree(source: str) -> ast.Module | None:
    """The cell as a syntax tree: plain Python first (the common case, ~20x cheaper than IPython's
    transformer); a cell magic whose body is Python (`%%mlrun`, `%%time`) as its body; else what
    IPython's transformer makes of it (line magics and shell escapes become calls)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    first, _, body = source.lstrip().partition("\n")
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if name not in PYTHON_CELL_MAGICS:
            return None  # %%bash, %%html, ...: no Python names
        source = body
    try:
        return ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return None


@lru_cache(maxsize=4096)
def cell_names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names the cell reads before binding them, names it binds at its top level)."""
    tree = _tree(source)
    if tree is None:
        return frozenset(), frozenset()
    names = _Names()
    for statement in tree.body:
        names.visit(statement)
    return frozenset(names.reads), frozenset(names.writes)


@dataclass(frozen=True)
class OutOfOrder:
    """A name the cell reads whose last writer is out of order: `why` is below, edited or deleted."""

    name: str
    cell_id: str
    why: str
    position: int | None = None


class SavedNotebook(Protocol):
    """What the check knows of the saved notebook."""

    def cell(self, cell_id: str) -> tuple[int, str] | None:
        """(1-based position, source) of the saved cell with this id, or None."""

    def saved_at(self) -> float | None:
        """When the file was last written (seconds since the epoch), None when it is not there."""


class OrderTracker:
    """The last cell that wrote each name, from the cells the kernel ran (see the module docstring)."""

    def __init__(self, pending: list[tuple[str | None, str, float]] | None = None) -> None:
        #: (cell id, source, time) of the cells run since the last check; the kernel's session may
        #: own this list and append to it before the tracker exists (no import at kernel start)
        self._pending = pending if pending is not None else []
        # name -> (cell id, sha1 of the source it ran, when it ran)
        self._writer: dict[str, tuple[str, str, float]] = {}

    def ran(self, cell_id: str | None, source: str, when: float) -> None:
        """A cell ran at `when` (called for every user cell; just an append)."""
        self._pending.append((cell_id, source, when))

    def catch_up(self) -> None:
        """Analyse the cells run since the last call (a kernel that ran `%%mlrun` calls it after
        each cell, so a check only has its own cell left to read)."""
        self._catch_up(keep_last=0)

    def _catch_up(self, keep_last: int) -> None:
        upto = len(self._pending) - keep_last
        for cell_id, source, when in self._pending[:upto]:
            _, writes = cell_names(source)
            if cell_id is None:
                for name in writes:
                    self._writer.pop(name, None)  # written by a cell we cannot name: no claim
                continue
            digest = _digest(source.rstrip())
            for name in writes:
                self._writer[name] = (cell_id, digest, when)
        del self._pending[:upto]

    def check(
        self,
        cell_id: str | None,
        body: str,
        saved: SavedNotebook | None,
        deleted: Iterable[str] = (),
        *,
        current_pending: bool = True,
    ) -> list[OutOfOrder]:
        """The out-of-order reads of the cell `cell_id` whose code is `body`.

        `current_pending`: the cell itself was already passed to `ran` (by `pre_run_cell`) and is
        left pending, so its own writes count for later cells only.
        """
        self._catch_up(keep_last=1 if current_pending and self._pending else 0)
        reads, _ = cell_names(body)
        gone = set(deleted)
        saved_at = saved.saved_at() if saved is not None else None
        here = saved.cell(cell_id) if (saved is not None and saved_at is not None and cell_id) else None
        problems: list[OutOfOrder] = []
        for name in sorted(reads):
            writer = self._writer.get(name)
            if writer is None or writer[0] == cell_id:
                continue
            writer_id, digest, when = writer
            found = saved.cell(writer_id) if (saved is not None and saved_at is not None) else None
            saved_since = saved_at is not None and saved_at > when
            if writer_id in gone or (saved_since and found is None):
                problems.append(OutOfOrder(name, writer_id, "deleted"))
            elif found is not None and saved_since and _digest(found[1].rstrip()) != digest:
                problems.append(OutOfOrder(name, writer_id, "edited", found[0]))
            elif found is not None and here is not None and found[0] > here[0]:
                problems.append(OutOfOrder(name, writer_id, "below", found[0]))
        return problems


_WHY = {
    "below": "a cell below this one",
    "edited": "a cell edited since it ran",
    "deleted": "a cell since deleted",
}


def describe(problems: Iterable[OutOfOrder]) -> str:
    """One line for the run card, e.g. ``Out of order: reads lr from cell 7 (a cell below this one)``."""
    parts = []
    for problem in problems:
        where = f"cell {problem.position}" if problem.position else f"cell id {problem.cell_id}"
        parts.append(f"{problem.name} from {where} ({_WHY[problem.why]})")
    return "Out of order (as saved): reads " + "; ".join(parts) if parts else ""


def tag_value(problems: Iterable[OutOfOrder]) -> str:
    """The run tag: ``name: cell id <id> [position N], below|edited|deleted`` entries joined by ``; ``."""
    entries = []
    for problem in problems:
        where = f"cell id {problem.cell_id}" + (f" (cell {problem.position})" if problem.position else "")
        entries.append(f"{problem.name}: {where}, {problem.why}")
    return "; ".join(entries)[:5000]
