"""`Run`: one run as users see it (DESIGN.md §5) — log to it, read it back.

Returned by `start_run`, `ws.get_run`, `ws.experiment(...).start_run` and
`mlws.active_run()`. A Run is a thin handle (workspace + run id); reads go to
the store each time, so `run.status` is always current. Metric points go
through the workspace's batching `MetricLogger` unless `sync=True`; reads
that include metrics flush this process's buffer first, and every read waits
for the run's pending background work (`Workspace.settle`: a `%%mlrun` cell
ends its run on a background thread), so a user always reads what they logged.

Used as a context manager a run ends `completed`, `failed` when the block
raises, `killed` on KeyboardInterrupt (RELIABILITY K3).

Steps: when `step` is omitted, a key's step counts up from 0 per run in this
process (0, 1, 2, ... as W&B does), so a loop of `log_metric("loss", v)` gives
a usable chart. Artifacts: `artifact_path` arguments name a folder inside
the run's artifacts, as in MLflow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from time import time_ns
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactRecord, RunInfo, RunStatus
from ..errors import MLWSError
from ..validation import (
    STEP_MAX,
    TS_MAX,
    TS_MIN,
    _key_cache,
    validate_key,
    validate_metric_value,
    validate_step,
    validate_timestamp,
)

if TYPE_CHECKING:
    import pandas as pd

    from .logger import MetricLogger
    from .workspace import Workspace

LOGS_FOLDER = "logs"


def _join(folder: str | None, name: str) -> str:
    return f"{folder.strip('/')}/{name}" if folder and folder.strip("/") else name


class Run:
    """A handle on one run of a workspace (see the module docstring)."""

    def __init__(self, workspace: Workspace, run_id: str, info: RunInfo | None = None) -> None:
        self.workspace = workspace
        self.id = run_id
        self._info = info
        self._steps: dict[str, int] = {}
        self._logger: MetricLogger | None = None
        self._tables: dict[str, list[dict[str, Any]]] = {}  # log_row's tables (run_logging.py)

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.info.name!r} {self.info.status.value}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Shown as a cell's last expression: the live `RunDetails` widget, else the text repr.

        The widget comes through the display hook the widgets package registers
        (`jupyter_mlws.display`): this layer knows no widget module by name.
        """
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        import sys

        shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
        if getattr(shell, "kernel", None) is None:  # a terminal has no front end for widgets
            return bundle
        from ..display import rich_bundle

        shown = rich_bundle("run", self, include, exclude)
        if shown:
            bundle.update(shown)
            bundle["text/plain"] = repr(self)
        return bundle

    # ----- reading -----------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's id (same as `id`, the MLflow spelling)."""
        return self.id

    @property
    def info(self) -> RunInfo:
        """Current info from the store."""
        self.workspace.settle(self.id)
        self._info = self.workspace.store.get_run_info(self.id)
        return self._info

    @property
    def status(self) -> str:
        """`queued`, `running`, `completed`, `failed`, `killed` or `canceled`."""
        return self.info.status.value

    @property
    def name(self) -> str:
        """The run's display name."""
        return self.info.name

    @property
    def params(self) -> dict[str, str]:
        """Params as stored (strings)."""
        self.workspace.settle(self.id)
        return dict(self.workspace.store.get_run(self.id).data.params)

    @property
    def tags(self) -> dict[str, str]:
        """Tags as stored (strings)."""
        self.workspace.settle(self.id)
        return dict(self.workspace.store.get_run(self.id).data.tags)

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value per metric key (after flushing this process's buffer)."""
        self.workspace.settle(self.id)
        self.workspace.logger.flush()
        return dict(self.workspace.store.get_run(self.id).data.metrics)

    def metric_history(self, key: str, max_points: int | None = None) -> pd.DataFrame:
        """DataFrame(step, timestamp, value) by step; at most `max_points` shape-preserving points."""
        from .frames import history_frame

        self.workspace.settle(self.id)
        self.workspace.logger.flush()
        return history_frame(self.workspace.store.get_metric_history(self.id, key, max_points))

    def artifacts(self, prefix: str = "") -> pd.DataFrame:
        """DataFrame(path, size, sha256) of the recorded artifacts."""
        import pandas as pd

        self.workspace.settle(self.id)
        rows = self.workspace.store.list_artifacts(self.id, prefix)
        return pd.DataFrame(
            {
                "path": [r.path for r in rows],
                "size": [r.size for r in rows],
                "sha256": [r.sha256 for r in rows],
            }
        )

    def download_artifacts(self, path: str = "", dest: str | os.PathLike[str] = ".") -> Path:
        """Copy an artifact file or folder to `dest` (created if needed); returns the local path."""
        self.workspace.settle(self.id)
        Path(dest).mkdir(parents=True, exist_ok=True)
        return Path(self.workspace.artifact_store.download(self.id, path, dest))

    def logs(self) -> str:
        """The captured output: every `logs/*` text artifact of the run, in path order."""
        self.workspace.settle(self.id)
        store = self.workspace.artifact_store
        texts = []
        for record in self.workspace.store.list_artifacts(self.id, LOGS_FOLDER):
            with store.open(self.id, record.path) as handle:
                texts.append(handle.read().decode("utf-8", errors="replace"))
        return "".join(texts)

    def snapshot(self) -> pd.DataFrame:
        """DataFrame(path, size, sha256) of the run's code snapshot (`client/snapshot.py`)."""
        from .snapshot import snapshot_files

        return snapshot_files(self)

    def replay(self, kernel: str | None = None, *, timeout: float | None = 600, rel_tol: float = 1e-6) -> Any:
        """Re-execute this run's cells in a fresh kernel (its snapshot as the working folder) and
        compare them cell by cell with what was recorded; records a child run of kind ``replay``.
        Returns a `Replay` (`.verdict` "reproduced" or "diverged", `.first_diverging_cell`, `.run`).
        `kernel` names a kernelspec (default: the run's, else python3); `timeout` is per cell."""
        from .replaying import replay_run

        return replay_run(self, kernel, timeout, rel_tol)

    def restore_snapshot(self, dest: str | os.PathLike[str]) -> Path:
        """Write the run's code snapshot and its replayable `history.py` under `dest`; returns it."""
        from .snapshot import restore_snapshot

        return restore_snapshot(self, dest)

    # ----- logging -----------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Set a param; params are immutable (a different value later is a Conflict)."""
        self.workspace.store.log_batch(self.id, params={key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set several params at once."""
        self.workspace.store.log_batch(self.id, params=params)

    def set_tag(self, key: str, value: Any) -> None:
        """Set or overwrite a tag."""
        self.workspace.store.log_batch(self.id, tags={key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set or overwrite several tags."""
        self.workspace.store.log_batch(self.id, tags=tags)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: Any = None, *, sync: bool = False
    ) -> None:
        """Log one point (buffered; `sync=True` writes it durably before returning)."""
        name = _key_cache.get(key) if type(key) is str else None
        if name is None:
            name = validate_key("Metric key", key)
        if type(value) is not float:
            value = validate_metric_value(name, value)
        if step is None:
            step = self._steps.get(name, -1) + 1
        elif type(step) is not int or step < 0 or step > STEP_MAX:
            step = validate_step(name, step)
        self._steps[name] = step
        if timestamp is None:
            timestamp = time_ns() // 1_000_000
        elif type(timestamp) is not int or not TS_MIN <= timestamp < TS_MAX:
            timestamp = validate_timestamp(name, timestamp)
        if sync:
            self.workspace.store.log_batch(self.id, metrics=[(name, value, step, timestamp)])
        else:
            logger = self._logger
            if logger is None:
                logger = self._logger = self.workspace.logger
            logger.log(self.id, name, value, step, timestamp)

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: Any = None,
        *,
        sync: bool = False,
    ) -> None:
        """Log several keys at the same step and time."""
        if timestamp is None:
            timestamp = time_ns() // 1_000_000
        for key, value in metrics.items():
            self.log_metric(key, value, step, timestamp, sync=sync)

    def flush(self) -> None:
        """Write this process's buffered points now (raises a pending write error)."""
        self.workspace.logger.flush()

    def _record(self, info: Any) -> ArtifactRecord:
        record = ArtifactRecord(info.path, int(info.size), info.sha256)
        self.workspace.store.record_artifact(self.id, record)
        return record

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactRecord:
        """Copy one local file into the run's artifacts (under the folder `artifact_path`)."""
        source = Path(local_path)
        info = self.workspace.artifact_store.put_file(self.id, source, _join(artifact_path, source.name))
        return self._record(info)

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactRecord]:
        """Copy every file under a local folder, keeping the relative layout."""
        root = Path(local_dir)
        records = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = file.relative_to(root).as_posix()
            info = self.workspace.artifact_store.put_file(self.id, file, _join(artifact_path, relative))
            records.append(self._record(info))
        return records

    def log_bytes(self, data: bytes, artifact_file: str) -> ArtifactRecord:
        """Store bytes as the artifact `artifact_file` (a path inside the run's artifacts)."""
        return self._record(self.workspace.artifact_store.put_bytes(self.id, data, artifact_file))

    def log_text(self, text: str, artifact_file: str) -> ArtifactRecord:
        """Store a string as a UTF-8 text artifact."""
        return self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, data: Any, artifact_file: str) -> ArtifactRecord:
        """Store a dict as JSON (or YAML when the name ends in .yaml/.yml and PyYAML is present)."""
        from .artifact_formats import dict_bytes

        return self.log_bytes(dict_bytes(data, artifact_file), artifact_file)

    def log_table(self, table: Any, artifact_file: str) -> ArtifactRecord:
        """Store a pandas DataFrame (Parquet with pyarrow, else CSV; see `artifact_formats`)."""
        from .artifact_formats import table_bytes

        data, name = table_bytes(table, artifact_file)
        return self.log_bytes(data, name)

    def log_figure(self, figure: Any, artifact_file: str) -> ArtifactRecord:
        """Store a matplotlib figure as an image (format from the extension, PNG by default)."""
        from .artifact_formats import figure_bytes

        data, name = figure_bytes(figure, artifact_file)
        return self.log_bytes(data, name)

    def log_image(self, name: str, image: Any) -> ArtifactRecord:
        """Store an image (Figure, PIL image, numpy array, PNG bytes or file) as `images/<name>.png`."""
        from .run_logging import log_image

        return log_image(self, name, image)

    def log_list(self, name: str, values: Any) -> None:
        """Log a list of numbers as the metric `name`, one step each (Azure ML's `log_list`)."""
        from .run_logging import log_list

        log_list(self, name, values)

    def log_row(self, name: str, **columns: Any) -> ArtifactRecord:
        """Append a row to the run's table `name` (`tables/<name>.json`, shown as a table)."""
        from .run_logging import log_row

        return log_row(self, name, columns)

    def log_output(self, text: str, name: str = "output.txt") -> ArtifactRecord:
        """Store captured stdout/stderr text as `logs/<name>` (what `logs()` returns)."""
        return self.log_text(text, _join(LOGS_FOLDER, name))

    # ----- lifecycle -----------------------------------------------------------
    def end(
        self,
        status: RunStatus | str = RunStatus.COMPLETED,
        reason: str | None = None,
        *,
        flush_timeout: float = 60.0,
    ) -> None:
        """Flush buffered metrics, then end the run with `status` (default `completed`).

        A run that already ended (e.g. the server marked it killed) keeps its
        status; ending it again with another status is a Conflict.
        """
        from . import lifecycle

        lost: MLWSError | None = None
        try:
            self.workspace.logger.flush(timeout=flush_timeout)
        except MLWSError as err:
            lost = err  # points that could not be written: said below, after the run is ended
        finally:
            self.workspace.logger.unwatch(self.id)
            lifecycle.forget(self)
            try:
                self.workspace.store.end_run(self.id, status, reason)
            except MLWSError as err:
                if lost is None:
                    raise
                raise type(lost)(f"{lost.message} The run could not be ended either: {err.message}") from err
        if lost is not None:
            raise lost

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.end(RunStatus.COMPLETED)
            return
        status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
        try:
            self.end(status, f"{exc_type.__name__}: {exc}"[:8000])
        except MLWSError:
            pass  # never hide the user's exception behind an ending error
