"""The slow half of a `%%mlrun` cell: what the background finalizer writes after the cell.

Made by `CellRun` (notebook/mlrun.py) when the cell has ended, with everything
it needs captured in the cell's thread (status, end time, output, traceback,
`--log-vars` values, history); `finish` runs on the finalizer thread
(client/finalizer.py), `abandon` from a bounded drain at exit or SIGTERM.

Order, most valuable first, each step on its own so one failure (noted in the
log) never stops the rest: the log `logs/output.txt`, the cell source
`code/cell.py`, `--log-vars`, the environment (`client/environment.py`), the
snapshot (`client/snapshot.py`), then the log again if a step added a note,
and last the status with the cell's end time (after a bounded flush of the
cell's metric points). A part that is not installed (ImportError) is skipped
silently. The status is never overwritten: a run already ended (by the user
inside the cell, or by the server) keeps its ending.

Before each step (and before the status) `finish` gives way to the kernel's
cells (`finalizer.give_way`): when cells run back to back (Run All), the job
waits between steps until the kernel has been quiet for `ENDING_DELAY`
(notebook/mlrun.py), or the running cell has turned long, rather than
competing with each cell for the GIL (the finalizer's module docstring says
why, and its limits). The steps, their order and what they write are the
same; only the pauses between them are new. `abandon` never waits.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .capture import OutputCapture

if TYPE_CHECKING:
    from ..client.run import Run
    from ..client.workspace import Workspace

LOG_NAME = "output.txt"
CODE_ARTIFACT = "code/cell.py"
END_FLUSH_SECONDS = 30.0


def _give_way() -> None:
    from ..client.finalizer import give_way

    give_way()


@dataclass
class CellEnding:
    """The finalizer's job for one `%%mlrun` cell (runs on the finalizer thread)."""

    ws: Workspace
    run: Run
    status: str
    reason: str | None
    end_ms: int
    capture: OutputCapture
    traceback: str
    notes: list[str]
    metrics: dict[str, float]
    params: dict[str, str]
    source: str
    line: str
    snapshot: bool
    notebook_path: str | None
    history: list[str]
    executed_cells: list[str]
    cwd: str
    log_written: bool = False
    ended: bool = False

    def log_text(self) -> str:
        text = self.capture.text()
        if self.traceback:
            if text and not text.endswith("\n"):
                text += "\n"
            text += self.traceback
        if self.status == "killed":
            text += "\n[mlws: the cell was interrupted (KeyboardInterrupt); the run ended killed]\n"
        for note in self.notes:
            text += f"\n[mlws: {note}]"
        if self.notes:
            text += "\n"
        return text

    def write_log(self) -> None:
        """Write `logs/output.txt` (a cell that printed nothing and raised nothing has no log)."""
        text = self.log_text()
        if text:
            self.run.log_output(text, LOG_NAME)
        self.log_written = True

    def finish(self) -> None:
        """Write everything, then end the run (each step's failure becomes a note in the log)."""
        notes_before = len(self.notes)
        self._step("the log", self.write_log)
        header = f"# %%mlrun {self.line}".rstrip() + "\n"
        self._step("the cell source", lambda: self.run.log_text(header + self.source, CODE_ARTIFACT))
        if self.metrics or self.params:
            self._step("--log-vars", self._log_vars)
        self._step("the environment", self._environment)
        if self.snapshot:
            self._step("the snapshot", self._snapshot)
        if len(self.notes) > notes_before:
            self._step("the log", self.write_log)
        _give_way()
        self._end()

    def abandon(self) -> None:
        """Called at exit when `finish` could not run in time: keep the essentials."""
        if not self.log_written:
            try:
                self.write_log()
            except Exception:
                pass
        self._end(flush_seconds=1.0)

    def _step(self, what: str, fn: Any) -> None:
        _give_way()  # the kernel's cells first (see the module docstring)
        try:
            fn()
        except ImportError:
            pass  # the part that does this is not installed (yet): nothing to record
        except Exception as err:
            self.notes.append(f"{what} could not be recorded: {type(err).__name__}: {err}")

    def _log_vars(self) -> None:
        for key, value in self.metrics.items():
            try:
                self.run.log_metric(key, value)
            except Exception as err:
                self.notes.append(f"--log-vars: metric {key} was refused: {err}")
        for key, value in self.params.items():
            try:
                self.run.log_param(key, value)
            except Exception as err:
                self.notes.append(f"--log-vars: param {key} was refused: {err}")

    def _environment(self) -> None:
        from ..client.environment import record_environment

        record_environment(self.run, cwd=self.cwd)

    def _snapshot(self) -> None:
        from ..client import snapshot

        notebook = self.notebook_path
        if notebook and not os.path.isabs(notebook):
            notebook = os.path.join(self.cwd, notebook)
        order_warning = None
        if notebook:
            order_warning = snapshot.execution_order_warning(notebook, self.executed_cells)
        history = [(number, src) for number, src in enumerate(self.history) if number > 0]
        # its warnings (cells out of order, size caps) go to the manifest and a run tag, not the log
        snapshot.take_snapshot(
            self.run, self.cwd, notebook_path=notebook, history=history, order_warning=order_warning
        )

    def _end(self, flush_seconds: float = END_FLUSH_SECONDS) -> None:
        from ..errors import Conflict

        if self.ended:
            return
        self.ended = True
        logger = self.ws.logger
        try:
            logger.flush(timeout=flush_seconds)
        except Exception as err:
            self.notes.append(f"metrics of the cell were not all written: {err}")
            try:
                self.write_log()
            except Exception:
                pass
        finally:
            logger.unwatch(self.run.id)
        for attempt in range(3):
            try:
                self.ws.store.update_run(
                    self.run.id, status=self.status, end_time=self.end_ms, status_reason=self.reason
                )
                return
            except Conflict:
                return  # ended meanwhile (the user's run.end(), or the server): that status stands
            except Exception:
                if attempt == 2:
                    raise  # logged by the finalizer; the server's supervision ends the run
                time.sleep(0.5)
