"""`SqlStore`: the metadata store on SQLite or PostgreSQL (SQLAlchemy 2 Core).

Opened by `store.factory.open_store` for `sqlite:///...` and
`postgresql://...` URLs. The plumbing (engines, the write path, the run id
cache, checkpoints) and experiments live here; runs in `sql/runs.py`, the hot
paths (metric batches, history) in `sql/metrics.py`, run search in
`sql/search.py`, what MLflow's API adds (soft delete, experiment tags, run
inputs and outputs, logged models) in `sql/lifecycle.py`, `experiment_tags.py`,
`run_io.py` and `logged_models.py`, and the other resources in their own
modules (mixins or functions this class delegates to). Every write goes
through `engine.run_write` (one transaction, retried while SQLite is busy);
reads use the reader pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ...entities import ArtifactRecord, CellExecution, ChangeSet, Experiment, Metric, MetricSeries, RunTable
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...location import redact_url
from ...validation import validate_artifact_location, validate_experiment_id, validate_name
from ..base import MetadataStore, now_ms
from . import artifact_records, removal
from . import executions as execution_ops
from . import metrics as metric_ops
from . import search as search_ops
from .batch_endpoints import SqlBatchEndpointMixin
from .changes import changes_since as _changes_since
from .changes import prune as _prune_changes
from .clusters import SqlClusterMixin
from .compute import SqlComputeMixin
from .data import SqlDataMixin
from .endpoints import SqlEndpointMixin
from .engine import create_engines, normalise_url, run_write, sqlite_path, wal_checkpoint
from .experiment_tags import SqlExperimentTagMixin, read_experiments
from .gate import WriteGate
from .jobs import SqlJobMixin
from .lifecycle import SqlLifecycleMixin, in_view
from .logged_models import SqlLoggedModelMixin
from .migrate import ensure_schema
from .registry import SqlRegistryMixin
from .run_io import SqlRunIoMixin
from .runs import SqlRunMixin
from .schema import HEAD_REVISION, experiments, runs
from .wal_watch import WAL_CAP_BYTES, wal_warning

_log = logging.getLogger("jupyter_mlws.store")
CHECKPOINT_EVERY_WRITES = 500
CHECKPOINT_EVERY_SECONDS = 30.0


class SqlStore(
    SqlRunMixin,
    SqlLifecycleMixin,
    SqlExperimentTagMixin,
    SqlRunIoMixin,
    SqlLoggedModelMixin,
    SqlComputeMixin,
    SqlClusterMixin,
    SqlJobMixin,
    SqlDataMixin,
    SqlBatchEndpointMixin,
    SqlRegistryMixin,
    SqlEndpointMixin,
    MetadataStore,
):
    """The SQL metadata store; see the module docstring and `MetadataStore` for the contract."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._url = normalise_url(url)
        self.dialect = self._url.get_backend_name()
        self._sqlite_file = sqlite_path(self._url) if self.dialect == "sqlite" else None
        self.writer, self.reader = create_engines(self._url)
        self.gate = WriteGate(self._sqlite_file) if self._sqlite_file is not None else None
        self._pk_cache: dict[str, int] = {}
        self._lock = threading.Lock()
        self._writes = 0
        self._last_checkpoint = time.monotonic()
        #: Past this the WAL is reported with who pins it (`wal_watch.py`); `wal_warning` says so.
        self.wal_cap_bytes = WAL_CAP_BYTES
        self.wal_warning: str | None = None
        try:
            self.revision = ensure_schema(
                self.writer, self.reader, redact_url(url), self._sqlite_file, self.gate
            )
        except BaseException:
            self.writer.dispose()
            self.reader.dispose()
            if self.gate is not None:
                self.gate.close()
            raise

    @property
    def database_file(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL (what a scoring replica must not see)."""
        return self._sqlite_file

    # ----- plumbing -------------------------------------------------------
    def write(self, work: Any, what: str = "write") -> Any:
        """Run `work(conn)` as one write transaction (retried while busy), then maybe checkpoint."""
        result = run_write(self.writer, work, what, self.gate)
        if self._sqlite_file is not None:
            self._maybe_checkpoint()
        return result

    def _maybe_checkpoint(self) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes >= CHECKPOINT_EVERY_WRITES or (
                time.monotonic() - self._last_checkpoint > CHECKPOINT_EVERY_SECONDS
            )
            if not due:
                return
            self._writes = 0
            self._last_checkpoint = time.monotonic()
        self.checkpoint()

    def checkpoint(self) -> None:
        """TRUNCATE-checkpoint the WAL (RELIABILITY C2); skipped if another writer or readers are busy.

        Also prunes the change feed, which needs the same occasional care."""
        self.write(_prune_changes, "prune_changes")
        if self._sqlite_file is not None:
            wal_checkpoint(self.writer, self.gate)
            self._watch_wal(self._sqlite_file)

    def _watch_wal(self, database: Path) -> None:
        """Set (and log once) or clear `wal_warning` after a checkpoint (RELIABILITY C2)."""
        warning = wal_warning(database, self.wal_cap_bytes)
        if warning != self.wal_warning:
            if warning is not None:
                _log.warning("mlws: %s", warning)
            elif self.wal_warning is not None:
                _log.warning("mlws: the workspace database's write-ahead log was reset.")
        self.wal_warning = warning

    def changes_since(self, cursor: int | None) -> ChangeSet:
        """Run changes after `cursor`, for the server's live events (see `sql/changes.py`)."""
        return _changes_since(self, cursor)

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:
        """The internal integer id of a run (cached: it never changes), or NotFound."""
        pk = self._pk_cache.get(run_id)
        if pk is not None:
            return pk
        if not isinstance(run_id, str):
            raise InvalidParameter(f"A run id is a string, not {type(run_id).__name__}.")
        query = select(runs.c.id).where(runs.c.run_id == run_id)
        if conn is None:
            with self.reader.connect() as own:
                found = own.execute(query).scalar()
        else:
            found = conn.execute(query).scalar()
        if found is None:
            raise NotFound(f"Run {run_id!r} does not exist.")
        self._pk_cache[run_id] = int(found)
        return int(found)

    def forget_run(self, run_id: str) -> None:
        """Drop a deleted run from the id cache."""
        self._pk_cache.pop(run_id, None)

    def describe(self) -> dict[str, Any]:
        """Kind, redacted URL, schema revision."""
        return {
            "head_revision": HEAD_REVISION,
            "kind": self.dialect,
            "url": redact_url(self.url),
            "schema_revision": self.revision,
            "schema_version": int(self.revision),
        }

    def close(self) -> None:
        """Checkpoint (SQLite) and dispose of both engines."""
        try:
            self.checkpoint()
        except Exception:
            pass
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
        if self.gate is not None:
            self.gate.close()

    # ----- experiments ----------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        name = validate_name("Experiment name", name)
        artifact_location = validate_artifact_location(artifact_location)
        stamp = now_ms()

        def work(conn: Connection) -> int:
            return int(
                conn.execute(
                    insert(experiments).values(
                        name=name,
                        artifact_location=artifact_location,
                        created_time=stamp,
                        last_update_time=stamp,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]  # set for a plain insert
            )

        try:
            new_id = self.write(work, "create_experiment")
        except IntegrityError:
            raise AlreadyExists(f"An experiment called {name!r} already exists.") from None
        return Experiment(new_id, name, artifact_location, stamp, stamp)

    def get_experiment(self, experiment_id: int) -> Experiment:
        experiment_id = validate_experiment_id(experiment_id)
        with self.reader.begin() as conn:
            found = read_experiments(conn, experiments.c.experiment_id == experiment_id)
        if not found:
            raise NotFound(f"Experiment {experiment_id!r} does not exist.")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        name = validate_name("Experiment name", name)
        with self.reader.begin() as conn:
            found = read_experiments(conn, experiments.c.name == name)
        return found[0] if found else None

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        where = in_view(experiments.c.lifecycle_stage, view)
        with self.reader.begin() as conn:
            return read_experiments(conn, where)

    def rename_experiment(self, experiment_id: int, name: str) -> Experiment:
        return removal.rename_experiment(self, experiment_id, name)

    def delete_experiment(self, experiment_id: int) -> None:
        removal.delete_experiment(self, experiment_id)

    # ----- runs: create, get, update and heartbeat are in runs.py --------------
    def delete_run(self, run_id: str) -> None:
        removal.delete_run(self, run_id)

    # ----- metrics, params, tags, search: see metrics.py and search.py ------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        taken_ms: int | None = None,
        *,
        renew_lease: bool = False,
    ) -> bool:
        """`MetadataStore.log_batch`; with `renew_lease`, the run's heartbeat is renewed in the same
        transaction (what a REST batch does: `server/handlers/metrics.py`)."""
        return metric_ops.log_batch(self, run_id, metrics, params, tags, batch_id, taken_ms, renew_lease)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        since: int | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        return metric_ops.metric_history(self, run_id, key, max_points, since, min_step, max_step)

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
        return metric_ops.metric_histories(self, run_ids, key)

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunTable:
        return search_ops.search_runs(self, experiment_ids, filter, order_by, limit, page_token, view)

    # ----- artifact records: see artifact_records.py -------------------------
    def record_artifact(self, run_id: str, artifact: ArtifactRecord) -> None:
        artifact_records.record(self, run_id, artifact)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        return artifact_records.listing(self, run_id, prefix)

    def delete_artifact_record(self, run_id: str, path: str) -> None:
        artifact_records.delete(self, run_id, path)

    def record_executions(self, executions: Sequence[CellExecution]) -> int:
        return execution_ops.record(self, executions)

    def list_executions(
        self,
        run_id: str | None = None,
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        limit: int = 100,
    ) -> list[CellExecution]:
        return execution_ops.listing(self, run_id, notebook_path, kernel_id, limit)
