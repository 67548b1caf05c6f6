"""`%%mlrun`: one cell as one run (DESIGN.md §4 flow 1; RELIABILITY K3).

Called by `WorkspaceMagics.mlrun` (notebook/magics.py) with the parsed
options. In the cell's thread, `CellRun.run`:

1. opens the run with one `create_run` (tags carry the notebook path, cell id
   and execution count; the run records its owner process and kernel), as a
   child of the run already active in the kernel if there is one;
2. shows the run card, makes the run the active run (`mlws.log_*` go to it,
   `$MLWS_RUN_ID` names it for subprocesses), tees stdout/stderr into its log;
3. executes the cell body the way IPython does (input transforms, the
   shell's compiler so tracebacks show the cell's lines, the user namespace,
   the last expression's value returned so it displays as `Out[n]`);
4. restores the streams, `$MLWS_RUN_ID` and the active run whatever
   happened, decides the status (clean end: `completed`; any exception,
   SystemExit of any code included, or `exit()` in the cell: `failed` with
   the traceback in the log; KeyboardInterrupt: `killed`), updates the card
   in place, and re-raises the exception so the cell still fails (nbclient
   and papermill see the error).

Everything slow is then one job on the background finalizer
(`client/finalizer.py`, the job is `notebook/ending.py`): the final log
`logs/output.txt`, the cell source `code/cell.py`, `--log-vars`, the
environment, the snapshot (unless `--no-snapshot`) and last the status with
the cell's end time. The Python API's reads wait for that job
(`Workspace.settle`), and an exit or SIGTERM drains it within a bounded time
(`client/lifecycle.py`), ending the run even if the job could not finish.

Decisions:
- An empty `%%mlrun` cell adds a few ms: `create_run` (~1.5 ms on SQLite)
  and two display messages; nothing else runs in the cell's thread. The
  background job starts once the kernel has run no cell for `ENDING_DELAY`
  (at once when someone reads the run), and pauses between its steps while
  cells run, so that neither this cell's reply nor the cells after it (Run
  All) are slowed by it competing for the GIL; a cell that runs long, or a
  backlog of endings, lets it run anyway (client/finalizer.py).
- `-t`, `-p`, `--log-vars`, names, keys and `--parent` are checked before the
  body runs: a mistake fails the cell with a UsageError and makes no run.
- Traceback line numbers count the `%%mlrun` line as line 1, as the editor
  shows the cell.
- `--log-vars`: numbers become metrics, bools and strings up to
  `PARAM_TEXT_MAX` characters params; anything else is named in the log.
- Top-level `await` is not supported inside `%%mlrun` (IPython's cell magics
  run synchronously); it fails as a SyntaxError.
"""

from __future__ import annotations

import ast
import numbers
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..errors import InvalidParameter, NotFound
from .capture import OutputCapture
from .card import CardFacts, RunCard
from .ending import LOG_NAME, CellEnding

#: Seconds without a cell before its background job starts or goes on (see the docstring).
ENDING_DELAY = 0.05

if TYPE_CHECKING:
    from ..client.run import Run
    from ..client.workspace import Workspace
    from .session import NotebookSession

PARAM_TEXT_MAX = 500


@dataclass
class MlrunOptions:
    """The parsed `%%mlrun` line."""

    experiment: str | None = None
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    description: str | None = None
    snapshot: bool = True
    log_vars: list[str] = field(default_factory=list)
    card: bool = True


def parse_pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; a missing `=` or key is a UsageError."""
    pairs: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"%%mlrun {flag} expects key=value, got {item!r}.")
        pairs[key.strip()] = value
    return pairs


def parse_names(text: str | None) -> list[str]:
    """`"a, b,model.score"` -> `["a", "b", "model.score"]`; each part must be a (dotted) name."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    for name in names:
        if not all(piece.isidentifier() for piece in name.split(".")):
            raise UsageError(f"%%mlrun --log-vars expects variable names separated by commas, got {name!r}.")
    return names


def classify_vars(
    names: Sequence[str], namespace: dict[str, Any]
) -> tuple[dict[str, float], dict[str, str], list[str]]:
    """Split `--log-vars` values into (metrics, params, notes for what was not logged)."""
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    notes: list[str] = []
    missing = object()
    for name in names:
        head, *rest = name.split(".")
        value = namespace.get(head, missing)
        for attr in rest:
            if value is missing:
                break
            value = getattr(value, attr, missing)
        if value is missing:
            notes.append(f"--log-vars: {name} is not defined after the cell; not logged.")
        elif isinstance(value, bool) or _numpy_bool(value):
            params[name] = str(bool(value))
        elif isinstance(value, numbers.Real):
            metrics[name] = float(value)
        elif isinstance(value, str) and len(value) <= PARAM_TEXT_MAX:
            params[name] = value
        elif isinstance(value, str):
            notes.append(
                f"--log-vars: {name} is a string of {len(value)} characters "
                f"(over {PARAM_TEXT_MAX}); not logged."
            )
        else:
            notes.append(
                f"--log-vars: {name} is a {type(value).__name__}; only numbers, bools and "
                f"strings up to {PARAM_TEXT_MAX} characters are logged."
            )
    return metrics, params, notes


def _numpy_bool(value: Any) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


def execute_body(shell: Any, source: str, number: int, names: list[str] | None = None) -> Any:
    """Run `source` like an IPython cell; return the last expression's value (else None).

    The cell's exceptions propagate unchanged. The filename the body is
    compiled under (what its traceback frames show) is appended to `names`.
    """
    __tracebackhide__ = True
    # one blank line stands for the `%%mlrun` line: tracebacks number the lines as the cell shows them
    transformed = "\n" + shell.transform_cell(source)
    filename = shell.compile.cache(transformed, number, raw_code=source)
    if names is not None:
        names.append(filename)
    tree = shell.transform_ast(shell.compile.ast_parse(transformed, filename=filename))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = shell.user_ns
    if tree.body:
        exec(shell.compile(tree, filename, "exec"), shell.user_global_ns, namespace)
    if last is not None:
        return eval(shell.compile(last, filename, "eval"), shell.user_global_ns, namespace)
    return None


def user_traceback(error: BaseException, skip_until: str | None) -> str:
    """The traceback text of `error` from the cell's first frame on (our frames left out)."""
    tb = error.__traceback__
    cursor = tb
    while cursor is not None and skip_until and cursor.tb_frame.f_code.co_filename != skip_until:
        cursor = cursor.tb_next
    if cursor is None:
        cursor = None if skip_until else tb
    return "".join(traceback.format_exception(type(error), error, cursor))


def ending_of(error: BaseException | None) -> tuple[str, str | None]:
    """(status, reason) for a cell that ended with `error` (None: a clean end)."""
    if error is None:
        return "completed", None
    if isinstance(error, KeyboardInterrupt):
        return "killed", "KeyboardInterrupt: the cell was interrupted"
    text = str(error)
    return "failed", (f"{type(error).__name__}: {text}" if text else type(error).__name__)[:8000]


class CellRun:
    """One execution of a `%%mlrun` cell (see the module docstring)."""

    def __init__(
        self, shell: Any, session: NotebookSession, options: MlrunOptions, line: str, cell: str
    ) -> None:
        self.shell = shell
        self.session = session
        self.options = options
        self.line = line
        self.cell = cell
        self.filenames: list[str] = []
        self.order_notice: str | None = None
        count = session.execution_count
        self.number = count if count is not None else max(int(shell.execution_count) - 1, 0)

    def _open(self) -> tuple[Workspace, Run, str]:
        from ..client import fluent, lifecycle
        from ..client.workspace import default_experiment_name

        ws = fluent.default_workspace()
        parent = self.options.parent
        if parent is None:
            try:
                current = lifecycle.active() or fluent.active_run()
            except NotFound:  # $MLWS_RUN_ID names a run this workspace does not have
                current = None
            parent = current.id if current is not None else None
        session = self.session
        tags: dict[str, Any] = dict(self.options.tags)
        if self.options.description:
            tags["mlws.description"] = self.options.description
        if session.notebook_path:
            tags["mlws.notebook"] = session.notebook_path
        if session.cell_id:
            tags["mlws.cell_id"] = session.cell_id
        tags["mlws.execution_count"] = self.number
        self.order_notice = self._out_of_order(tags)
        experiment = self.options.experiment or default_experiment_name()
        try:
            run = ws.start_run(
                experiment,
                self.options.name,
                tags,
                parent=parent,
                source_kind="notebook",
                notebook_path=session.notebook_path,
                cell_id=session.cell_id,
            )
        except (InvalidParameter, NotFound) as err:
            raise UsageError(f"%%mlrun: {err.message}") from None
        if self.options.params:
            try:
                run.log_params(self.options.params)
            except BaseException as err:
                lifecycle.forget(run)
                ws.logger.unwatch(run.id)
                ws.store.end_run(run.id, "failed", "the %%mlrun parameters were refused")
                if isinstance(err, InvalidParameter):
                    raise UsageError(f"%%mlrun -p: {err.message}") from None
                raise
        return ws, run, experiment

    def _out_of_order(self, tags: dict[str, Any]) -> str | None:
        """The card's line about names this cell reads from cells out of order (and their tag)."""
        from ..repro.order import TAG, describe, tag_value

        try:
            problems = self.session.out_of_order(self.cell)
        except Exception:  # the check must never fail the user's cell
            return None
        if not problems:
            return None
        tags[TAG] = tag_value(problems)
        return describe(problems)

    def run(self) -> Any:
        """Open the run, execute the cell, hand the ending to the finalizer; re-raise the cell's error."""
        __tracebackhide__ = True
        from ..client import lifecycle
        from ..client.workspace import RUN_ID_ENV

        session = self.session
        shell = self.shell
        previous_env = os.environ.get(RUN_ID_ENV)
        previous_mlflow = os.environ.get(MLFLOW_RUN_ID)
        mlflow_before = _mlflow_active()
        exit_before = bool(getattr(shell, "exit_now", False))
        ws, run, experiment = self._open()
        info = run._info
        card = RunCard(
            CardFacts(run.id, info.name if info else run.id, experiment, "running", notice=self.order_notice)
        )
        capture = OutputCapture(on_live=lambda text: run.log_output(text, LOG_NAME))
        error: BaseException | None = None
        started = time.perf_counter()
        try:
            session.cell_run_id = run.id
            session.last_card = card.facts
            os.environ[RUN_ID_ENV] = run.id
            os.environ[MLFLOW_RUN_ID] = run.id  # mlflow.start_run() and fluent calls resume this run
            capture.start()  # before the card: its display then skips two empty stream flushes
            if self.options.card:
                card.show()
            return execute_body(shell, self.cell, self.number, self.filenames)
        except BaseException as err:
            error = err
            raise
        finally:
            try:
                lifecycle.forget(run)
                if previous_env is None:
                    os.environ.pop(RUN_ID_ENV, None)
                else:
                    os.environ[RUN_ID_ENV] = previous_env
                _leave_mlflow_run(previous_mlflow, mlflow_before)
                self._end(ws, run, card, capture, error, exit_before, time.perf_counter() - started)
            finally:
                capture.stop()

    def _end(
        self,
        ws: Workspace,
        run: Run,
        card: RunCard,
        capture: OutputCapture,
        error: BaseException | None,
        exit_before: bool,
        duration_s: float,
    ) -> None:
        from ..client import finalizer, lifecycle

        end_ms = time.time_ns() // 1_000_000
        status, reason = ending_of(error)
        tb_text = ""
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        notes: list[str] = []
        history: list[str] = []
        cwd = "."
        try:  # nothing here may hide the cell's own exception or lose the run's ending
            history = _history(self.shell, self.number)
            cwd = os.getcwd()
            if error is not None:
                tb_text = user_traceback(error, self.filenames[0] if self.filenames else None)
            elif (
                not exit_before and getattr(self.shell, "exit_now", False) and not lifecycle._kernel_shutdown
            ):
                status, reason = "failed", "exit() was called in the cell: the kernel exits"
            metrics, params, notes = classify_vars(self.options.log_vars, self.shell.user_ns)
            card.update(status=status, duration_s=duration_s, reason=reason)  # still teed: no flush
        except Exception as err:
            notes.append(f"the end of the cell was not fully recorded: {type(err).__name__}: {err}")
        finally:
            capture.stop()  # before the job is queued: no live write can follow the final log
        job = CellEnding(
            ws=ws,
            run=run,
            status=status,
            reason=reason,
            end_ms=end_ms,
            capture=capture,
            traceback=tb_text,
            notes=notes,
            metrics=metrics,
            params=params,
            source=self.cell,
            line=self.line,
            snapshot=self.options.snapshot,
            notebook_path=self.session.notebook_path,
            history=history,
            executed_cells=list(self.session.executed_cell_ids),
            cwd=cwd,
        )
        finalizer.submit(run.id, job.finish, abandon=job.abandon, delay=ENDING_DELAY)


def _history(shell: Any, number: int) -> list[str]:
    """The raw sources of the kernel's cells 0..number (index = execution count)."""
    manager = getattr(shell, "history_manager", None)
    raw = getattr(manager, "input_hist_raw", None) or []
    return raw[: number + 1]


#: MLflow's variable for the run its fluent API resumes (`mlflow.start_run()` with no run id).
MLFLOW_RUN_ID = "MLFLOW_RUN_ID"


def _mlflow_active() -> str | None:
    """The run MLflow's fluent API has active in this kernel (None without `mlflow` imported)."""
    mlflow = sys.modules.get("mlflow")
    try:
        active = mlflow.active_run() if mlflow is not None else None
    except Exception:
        return None
    return active.info.run_id if active is not None else None


def _leave_mlflow_run(previous: str | None, before: str | None) -> None:
    """After a `%%mlrun` cell: MLflow's fluent API lets go of the runs the cell opened (the cell's
    own run included: its ending is ours, and the MLflow API does not end a `%%mlrun` run while
    its cell runs), back to what was active before the cell; the variable is back as it was."""
    if previous is None:
        os.environ.pop(MLFLOW_RUN_ID, None)
    else:
        os.environ[MLFLOW_RUN_ID] = previous
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    try:
        for _ in range(100):
            active = mlflow.active_run()
            if active is None or active.info.run_id == before:
                break
            mlflow.end_run()
    except Exception:  # MLflow's own trouble must not hide the cell's outcome
        pass
