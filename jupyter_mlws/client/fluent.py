"""Module-level functions acting on the active run: `mlws.start_run`, `mlws.log_metric`, ...

Exported lazily by `jupyter_mlws/__init__.py`. They share one `Workspace`
per resolved location (`default_workspace()`), so a notebook that calls
`mlws.log_metric` a million times opens the store once.

The active run is the innermost run started with `start_run` in this
process; without one, `$MLWS_RUN_ID` (set for jobs and `%%mlrun` cells) names
a run to attach to; without either, logging starts a run in the default
experiment, as MLflow does. `start_run(nested=True)` (or `parent=`) makes a
child run of the active one; starting a second top-level run while one is
open is a Conflict that says so.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Conflict
from ..location import resolve_location
from . import lifecycle
from .run import Run
from .workspace import RUN_ID_ENV, Workspace

if TYPE_CHECKING:
    import pandas as pd

    from ..repro.diff import RunDiff

_workspaces: dict[str, Workspace] = {}
_attached: dict[str, Run] = {}
_lock = threading.Lock()


def default_workspace(workspace: str | os.PathLike[str] | None = None) -> Workspace:
    """The shared Workspace for `workspace` (or `$MLWS_WORKSPACE`, else ./.mlws)."""
    key = resolve_location(workspace).store_url
    found = _workspaces.get(key)
    if found is None:
        with _lock:
            found = _workspaces.get(key)
            if found is None:
                found = _workspaces[key] = Workspace(workspace)
    return found


def active_run() -> Run | None:
    """The run this code is inside: the innermost `start_run`, else the run named by `$MLWS_RUN_ID`."""
    run = lifecycle.active()
    if run is not None:
        return run
    run_id = os.environ.get(RUN_ID_ENV, "").strip()
    if not run_id:
        return None
    found = _attached.get(run_id)
    if found is None:
        found = _attached[run_id] = default_workspace().get_run(run_id)
    return found


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    nested: bool = False,
    parent: Run | str | None = None,
    run_id: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Run:
    """Start (or with `run_id`, resume) a run; use it as `with mlws.start_run(...) as run:`."""
    current = lifecycle.active()
    if current is not None and not nested and parent is None and run_id is None:
        raise Conflict(
            f"Run {current.id} is still active. End it first, or pass nested=True to start a child run."
        )
    if nested and parent is None:
        parent = current or active_run()
    if run_id is None and current is None and parent is None:
        env_run = os.environ.get(RUN_ID_ENV, "").strip()
        if env_run and experiment is None and name is None:
            run_id = env_run
    return default_workspace(workspace).start_run(
        experiment, name, tags, parent=parent, run_id=run_id, **options
    )


def end_run(status: str = "completed") -> None:
    """End the active run (no-op without one)."""
    run = lifecycle.active()
    if run is not None:
        run.end(status)


def _run() -> Run:
    stack = lifecycle._stack
    if stack:  # hot path of mlws.log_metric: reading the list's end is atomic under the GIL
        return stack[-1]
    run = active_run()
    if run is None:
        run = start_run()
    return run


def log_param(key: str, value: Any) -> None:
    """Set a param of the active run (immutable once set)."""
    _run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Set several params of the active run."""
    _run().log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: Any = None, *, sync: bool = False
) -> None:
    """Log a metric point to the active run (buffered unless `sync=True`)."""
    _run().log_metric(key, value, step, timestamp, sync=sync)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: Any = None, *, sync: bool = False
) -> None:
    """Log several metrics to the active run at the same step."""
    _run().log_metrics(metrics, step, timestamp, sync=sync)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    _run().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run."""
    _run().set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> Any:
    """Copy a local file into the active run's artifacts."""
    return _run().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> Any:
    """Copy a local folder into the active run's artifacts."""
    return _run().log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> Any:
    """Store text as an artifact of the active run."""
    return _run().log_text(text, artifact_file)


def log_dict(data: Any, artifact_file: str) -> Any:
    """Store a dict as JSON/YAML in the active run."""
    return _run().log_dict(data, artifact_file)


def log_table(table: Any, artifact_file: str) -> Any:
    """Store a DataFrame (Parquet, else CSV) in the active run."""
    return _run().log_table(table, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> Any:
    """Store a matplotlib figure in the active run."""
    return _run().log_figure(figure, artifact_file)


def log_image(name: str, image: Any) -> Any:
    """Store an image in the active run (`images/<name>.png`; see client/run_logging.py)."""
    return _run().log_image(name, image)


def log_list(name: str, values: Any) -> None:
    """Log a list of numbers as one metric series of the active run."""
    _run().log_list(name, values)


def log_row(name: str, **columns: Any) -> Any:
    """Append a row to the table `name` of the active run."""
    return _run().log_row(name, **columns)


def last_run() -> Run | None:
    """The run of the last `%%mlrun` cell or top-level `start_run` in this process (while it is
    still active too), or None — MLflow's `last_active_run()`."""
    return lifecycle.last()


def get_run(run_id: str) -> Run:
    """A run of the default workspace by id."""
    return default_workspace().get_run(run_id)


def diff(run_a: Run | str, run_b: Run | str) -> RunDiff:
    """What run `run_b` did differently from run `run_a`; see `Workspace.diff`. Run objects are
    compared in their own workspace, run ids in the default one."""
    ws = run_a.workspace if isinstance(run_a, Run) else default_workspace()
    return ws.diff(run_a, run_b)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | None = None,
    limit: int = 1000,
    page_token: str | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Runs of the default (or given) workspace as a DataFrame; see `Workspace.runs`."""
    return default_workspace(workspace).runs(experiment, filter, order_by, limit, page_token)
