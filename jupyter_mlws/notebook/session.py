"""What the extension knows about its kernel's notebook, kept between cells.

One `NotebookSession` per IPython shell, made by `load_ipython_extension`
(notebook/__init__.py) and shared by the magics. Its `pre_run_cell` /
`post_run_cell` handlers (IPython events) keep the current cell's id (IPython
passes the frontend's `cellId` as `info.cell_id`), the order in which cells
ran (the snapshot's out-of-order warning reads it), each cell's source (the
`%%mlrun` out-of-order check, repro/order.py, reads it) and the cells
JupyterLab reports deleted, and feed the execution recorder. `%%mlrun` notes
its run here so the recorder files the cell under it, and the last card for
`%mlws status`.

Decisions:
- The notebook path is `$JPY_SESSION_NAME` (jupyter_server sets it for a
  kernel started for a notebook), None elsewhere.
- The handlers never touch the store and never raise: a failure in them must
  not fail the user's cell.
- The handlers also tell the background finalizer (client/finalizer.py) when a
  user's cell starts and ends, so that `%%mlrun` endings give way to the cells
  that follow (Run All) instead of competing with them for the GIL. Only when
  that module is already loaded (a kernel that never ran `%%mlrun` has no
  endings): a `sys.modules` lookup per cell, no import at kernel start.
- Silent executions (completion, inspectors) and `store_history=False`
  requests are not cells the user ran: they are left out.
- A frontend that sends no cell id (nbclient and so papermill, `jupyter
  execute`) still gets one: the cell's source is looked up in the saved
  notebook (`SavedCells`, parsed once per file change, then a dict lookup
  and a `stat` per cell); a source found in several cells takes the first
  one after the last cell found, as a top-to-bottom execution runs them.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .recorder import ExecutionRecorder

if TYPE_CHECKING:
    from ..repro.order import OrderTracker, OutOfOrder
    from .card import CardFacts

_LIFECYCLE = "jupyter_mlws.client.lifecycle"
_FINALIZER = "jupyter_mlws.client.finalizer"
_sessions: dict[int, NotebookSession] = {}


def active_run_id() -> str | None:
    """The run active in this kernel right now (never imports the client to find out)."""
    lifecycle = sys.modules.get(_LIFECYCLE)
    if lifecycle is not None:
        stack = lifecycle._stack
        if stack:
            return stack[-1].id
    return os.environ.get("MLWS_RUN_ID") or None


class SavedCells:
    """Cell ids of the saved notebook by source (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_source: dict[str, list[tuple[int, str]]] = {}
        self._by_id: dict[str, tuple[int, str]] = {}
        self._last = -1

    def _fresh(self) -> bool:
        """Re-read the file when it changed; False when it is not there."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp = None
            self._by_source, self._by_id = {}, {}
            return False
        if (st.st_mtime_ns, st.st_size) != self._stamp:
            self._stamp = (st.st_mtime_ns, st.st_size)
            self._load()
        return True

    def saved_at(self) -> float | None:
        """When the notebook file was last written, None when there is none."""
        return self._stamp[0] / 1e9 if self._fresh() and self._stamp else None

    def cell(self, cell_id: str) -> tuple[int, str] | None:
        """(1-based position, source) of the saved cell with this id (any cell type), or None."""
        return self._by_id.get(cell_id) if self._fresh() else None

    def find(self, source: str) -> str | None:
        """The id of the saved cell whose source is `source`, or None."""
        if not self._fresh():
            return None
        found = self._by_source.get(source) or self._by_source.get(source.rstrip())
        if not found:
            return None
        position, cell_id = next(((p, c) for p, c in found if p > self._last), found[0])
        self._last = position
        return cell_id

    def _load(self) -> None:
        import json

        self._by_source, self._by_id = {}, {}
        self._last = -1
        try:
            with open(self.path, encoding="utf-8") as handle:
                cells = json.load(handle).get("cells") or []
        except (OSError, ValueError, AttributeError):
            return
        for position, cell in enumerate(cells):
            if not isinstance(cell, dict) or not cell.get("id"):
                continue
            source = cell.get("source", "")
            if isinstance(source, list):
                source = "".join(source)
            if not isinstance(source, str):
                continue
            self._by_id.setdefault(str(cell["id"]), (position + 1, source))
            if cell.get("cell_type") == "code":
                for key in {source, source.rstrip()}:
                    self._by_source.setdefault(key, []).append((position, str(cell["id"])))


def _user_cell(info: Any) -> bool:
    return not getattr(info, "silent", False) and getattr(info, "store_history", True)


class NotebookSession:
    """Per-kernel state of the extension (see the module docstring)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.notebook_path: str | None = os.environ.get("JPY_SESSION_NAME", "").strip() or None
        self.recorder = ExecutionRecorder(notebook_path=self.notebook_path)
        self.cell_id: str | None = None
        self.execution_count: int | None = None
        self.executed_cell_ids: list[str] = []
        self.cell_run_id: str | None = None
        self.last_card: CardFacts | None = None
        self._runs_at_start: list[str | None] = []
        #: (cell id, source, time) of each cell run, for the out-of-order check (`out_of_order`)
        self.ran_cells: list[tuple[str | None, str, float]] = []
        self._order: OrderTracker | None = None
        self.deleted_cells: set[str] = set()
        self._saved = SavedCells(os.path.abspath(self.notebook_path)) if self.notebook_path else None

    # ----- IPython events ------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        """IPython's `pre_run_cell`: a cell is about to run."""
        if not _user_cell(info):
            return
        try:
            background = sys.modules.get(_FINALIZER)
            if background is not None:
                background.get().cell_started()
            cell_id = getattr(info, "cell_id", None) or None
            raw_cell = getattr(info, "raw_cell", "") or ""
            if cell_id is None and self._saved is not None:
                cell_id = self._saved.find(raw_cell)
            self.cell_id = cell_id
            # IPython counts the cell before `pre_run_cell`: its number is one less
            self.execution_count = max(int(self.shell.execution_count) - 1, 0)
            if cell_id is not None:
                self.executed_cell_ids.append(cell_id)
            self.ran_cells.append((cell_id, raw_cell, time.time()))
            self._note_deleted_cells()
            self.cell_run_id = None
            self._runs_at_start.append(active_run_id())
            self.recorder.begin(raw_cell, cell_id)
        except Exception:
            pass

    def post_run_cell(self, result: Any) -> None:
        """IPython's `post_run_cell`: the cell finished (its errors are in `result`)."""
        if not _user_cell(getattr(result, "info", None)):
            return
        try:
            background = sys.modules.get(_FINALIZER)
            if background is not None:
                background.get().cell_ended()
        except Exception:
            pass
        try:
            if self._order is not None:  # this kernel ran %%mlrun: keep its order check ready
                self._order.catch_up()
        except Exception:
            pass
        try:
            at_start = self._runs_at_start.pop() if self._runs_at_start else None
            run_id = self.cell_run_id or active_run_id() or at_start
            self.cell_run_id = None
            error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            self.recorder.end(getattr(result, "execution_count", None), error, run_id)
        except Exception:
            pass

    def out_of_order(self, body: str) -> list[OutOfOrder]:
        """The out-of-order reads of the cell running now, whose code is `body` (repro/order.py)."""
        from ..repro.order import OrderTracker

        if self._order is None:
            self._order = OrderTracker(self.ran_cells)
        return self._order.check(self.cell_id, body, self._saved, self.deleted_cells)

    def _note_deleted_cells(self) -> None:
        """Keep the cells JupyterLab reports deleted (its execute request's ``deletedCells``,
        sent once, with the first execution after the deletion)."""
        kernel = getattr(self.shell, "kernel", None)
        parent = kernel.get_parent() if kernel is not None else None
        deleted = ((parent or {}).get("metadata") or {}).get("deletedCells")
        if deleted and isinstance(deleted, list):
            self.deleted_cells.update(str(c) for c in deleted if isinstance(c, str))

    # ----- wiring ----------------------------------------------------------------
    def register(self) -> None:
        """Listen to the shell's cell events."""
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        """Stop listening and write what the recorder holds (bounded)."""
        for name, handler in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(name, handler)
            except ValueError:
                pass
        self.recorder.flush(timeout=5.0)


def session_for(shell: Any, *, create: bool = True) -> NotebookSession | None:
    """The session of `shell` (made and registered on first use when `create`)."""
    found = _sessions.get(id(shell))
    if found is None and create:
        found = _sessions[id(shell)] = NotebookSession(shell)
        found.register()
    return found


def drop_session(shell: Any) -> None:
    """Forget the session of `shell` (on `%unload_ext`)."""
    found = _sessions.pop(id(shell), None)
    if found is not None:
        found.unregister()
