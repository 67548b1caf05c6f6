"""What the extension knows about its kernel's notebook, kept between cells.

One `NotebookSession` per IPython shell, made by `load_ipython_extension`
(notebook/__init__.py) and shared by the magics. Its `pre_run_cell` /
`post_run_cell` handlers (IPython events) keep the current cell's id (IPython
passes the frontend's `cellId` as `info.cell_id`), the order in which cells
ran (the snapshot's out-of-order warning reads it), and feed the execution
recorder. `%%mlrun` notes its run here so the recorder files the cell under
it, and the last card for `%mlws status`.

Decisions:
- The notebook path is `$JPY_SESSION_NAME` (jupyter_server sets it for a
  kernel started for a notebook), None elsewhere.
- The handlers never touch the store and never raise: a failure in them must
  not fail the user's cell.
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
from typing import TYPE_CHECKING, Any

from .recorder import ExecutionRecorder

if TYPE_CHECKING:
    from .card import CardFacts

_LIFECYCLE = "jupyter_mlws.client.lifecycle"
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
        self._last = -1

    def find(self, source: str) -> str | None:
        """The id of the saved cell whose source is `source`, or None."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_size) != self._stamp:
            self._stamp = (st.st_mtime_ns, st.st_size)
            self._load()
        found = self._by_source.get(source) or self._by_source.get(source.rstrip())
        if not found:
            return None
        position, cell_id = next(((p, c) for p, c in found if p > self._last), found[0])
        self._last = position
        return cell_id

    def _load(self) -> None:
        import json

        self._by_source = {}
        self._last = -1
        try:
            with open(self.path, encoding="utf-8") as handle:
                cells = json.load(handle).get("cells") or []
        except (OSError, ValueError, AttributeError):
            return
        for position, cell in enumerate(cells):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code" or not cell.get("id"):
                continue
            source = cell.get("source", "")
            if isinstance(source, list):
                source = "".join(source)
            if isinstance(source, str):
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
        self._saved = SavedCells(os.path.abspath(self.notebook_path)) if self.notebook_path else None

    # ----- IPython events ------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        """IPython's `pre_run_cell`: a cell is about to run."""
        if not _user_cell(info):
            return
        try:
            cell_id = getattr(info, "cell_id", None) or None
            raw_cell = getattr(info, "raw_cell", "") or ""
            if cell_id is None and self._saved is not None:
                cell_id = self._saved.find(raw_cell)
            self.cell_id = cell_id
            # IPython counts the cell before `pre_run_cell`: its number is one less
            self.execution_count = max(int(self.shell.execution_count) - 1, 0)
            if cell_id is not None:
                self.executed_cell_ids.append(cell_id)
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
            at_start = self._runs_at_start.pop() if self._runs_at_start else None
            run_id = self.cell_run_id or active_run_id() or at_start
            self.cell_run_id = None
            error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            self.recorder.end(getattr(result, "execution_count", None), error, run_id)
        except Exception:
            pass

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
