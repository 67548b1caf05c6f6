"""The one metadata-store interface (STYLE.md rule 3).

Backends: `store/sql/` (SQLite, PostgreSQL) now, a REST client later. The
client layer, the server and the CLI talk only to this class, and one
contract suite (`tests/store/`) runs against every backend.

The abstract methods are the small required core; everything else is a
convenience built on it (one metric is a batch of one), so a new backend
implements the core and inherits the rest. Inputs and outputs are plain
values and the dataclasses of `jupyter_mlws.entities`, never ORM rows, so
every method maps onto one JSON request for the REST transport.

Contract highlights every backend honours:
- `log_batch` is all-or-nothing: an invalid item or a failure stores nothing.
- params are immutable: logging the same key again with the same value is a
  no-op, with a different value a `Conflict`.
- `latest_metrics` per key is the point with the largest (step, timestamp).
- times are integer milliseconds since the Unix epoch, UTC.
- `create_experiment` relies on a unique constraint (no check-then-insert):
  of concurrent creators exactly one wins, the others get `AlreadyExists`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..entities import (
    ArtifactRecord,
    CellExecution,
    ComputeCluster,
    ComputeEvent,
    ComputeInstance,
    DataAsset,
    DataVersion,
    Experiment,
    Job,
    JobLogChunk,
    Metric,
    MetricSeries,
    ModelFile,
    RunInfo,
    RunRecord,
    RunStatus,
    RunTable,
)
from ..errors import AlreadyExists, Conflict, NotFound
from .base_batch import BatchEndpointStore
from .base_mlflow import MlflowStore
from .base_registry import RegistryStore


def now_ms() -> int:
    """The current time in milliseconds since the epoch (the store's time unit)."""
    return time.time_ns() // 1_000_000


class MetadataStore(RegistryStore, BatchEndpointStore, MlflowStore, ABC):
    """Experiments, runs, params, tags, metrics and artifact records."""

    url: str

    # ----- required core -------------------------------------------------
    @abstractmethod
    def create_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        """Create an experiment; `AlreadyExists` when the (NFC-normalised) name is taken."""

    @abstractmethod
    def get_experiment(self, experiment_id: int) -> Experiment:
        """The experiment with this id (with its tags, deleted or not), or `NotFound`."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this (NFC-normalised) name (with its tags, deleted or not), or None."""

    @abstractmethod
    def list_experiments(self, view: str = "active") -> list[Experiment]:
        """The experiments in `view` ("active", "deleted" or "all"), with their tags, oldest first."""

    @abstractmethod
    def rename_experiment(self, experiment_id: int, name: str) -> Experiment:
        """Give an experiment a new name (`AlreadyExists` when taken, `NotFound` when missing)."""

    @abstractmethod
    def delete_experiment(self, experiment_id: int) -> None:
        """Delete an experiment that has no runs (`Conflict` while it has some, `NotFound` when missing)."""

    @abstractmethod
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        run_id: str | None = None,
        status: RunStatus | str = RunStatus.RUNNING,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        source_kind: str = "api",
        compute_target: str = "local",
        notebook_path: str | None = None,
        cell_id: str | None = None,
        user: str | None = None,
        tags: Mapping[str, Any] | None = None,
        host: str | None = None,
        pid: int | None = None,
        kernel_id: str | None = None,
    ) -> RunRecord:
        """Create a run (a uuid4 hex id unless given); a `running` run gets a start time.

        `host`, `pid` and `kernel_id` name the process that owns the run while it
        runs: the server's supervisor ends the run `killed` when that process or
        kernel is gone.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """Info, params, tags and latest metrics of a run, or `NotFound`."""

    @abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        status_reason: str | None = None,
    ) -> RunInfo:
        """Change status (valid transitions only, else `Conflict`), end time, name or reason.

        An ended run keeps the end time and reason of its first ending: ending it
        again with the same status changes nothing (so the server's "kernel culled"
        is not overwritten by the kernel's own exit hook a moment later)."""

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete a run with its params, tags, metrics and artifact records (`NotFound` when missing).

        The artifact bytes are the artifact store's to delete."""

    @abstractmethod
    def heartbeat(self, run_id: str, time_ms: int | None = None) -> RunStatus:
        """Record that the run's process is alive; returns the status (an ended run is left as is)."""

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        taken_ms: int | None = None,
    ) -> bool:
        """Store metrics (key, value, step, timestamp ms), params and tags in one all-or-nothing write.

        With a `batch_id` (1-64 characters of letters, digits, `-`, `_`), a batch
        already applied to this run is not written again and False is returned:
        retries after a lost answer never duplicate a point. True otherwise.
        A run someone else ended (killed, canceled) refuses data taken after its end with
        `RunEnded` (409); `taken_ms` is when the client took the batch (default: its newest
        point's timestamp, or now).
        """

    @abstractmethod
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        since: int | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        """All points of one key ordered by step, or at most `max_points` shape-preserving ones.

        `since` (a previous answer's `cursor`) limits the answer to the points
        logged after that read, for live charts that poll. `min_step`/`max_step`
        (inclusive) limit it to a window of steps before downsampling, so a zoomed
        chart gets the window's detail; `total_points` and `cursor` stay those of
        the whole key.
        """

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
        """Every point of `key` for each of `run_ids` (a run without it is left out); NotFound for
        an unknown run. Stores that can read many runs at once override it (the SQL store: one
        query), for a comparison's charts."""
        out = {}
        for run_id in run_ids:
            series = self.get_metric_history(run_id, key)
            if series.total_points:
                out[run_id] = series
        return out

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunTable:
        """One page of runs matching the filter grammar (see `store/filter.py`), as columns.

        `view` ("active", "deleted" or "all") says which lifecycle stages are shown: by default
        soft-deleted runs are hidden, from `ws.runs` and the panel alike."""

    @abstractmethod
    def record_artifact(self, run_id: str, artifact: ArtifactRecord) -> None:
        """Record (or replace) the path, size and sha256 of an artifact the artifact store holds."""

    @abstractmethod
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        """The recorded artifacts of a run under `prefix`, sorted by path."""

    @abstractmethod
    def delete_artifact_record(self, run_id: str, path: str) -> None:
        """Forget one artifact record (the artifact store deletes the bytes)."""

    @abstractmethod
    def record_executions(self, executions: Sequence[CellExecution]) -> int:
        """Store a batch of recorded cell executions (all or nothing); returns how many."""

    @abstractmethod
    def list_executions(
        self,
        run_id: str | None = None,
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        limit: int = 100,
    ) -> list[CellExecution]:
        """Recorded executions matching every given filter, newest first."""

    # ----- compute targets (schema v5; names in DESIGN.md §5) ---------------------------
    @abstractmethod
    def create_compute_target(self, instance: ComputeInstance) -> ComputeInstance:
        """Store a new compute instance (`AlreadyExists` if the name is taken); sets its times."""

    @abstractmethod
    def get_compute_target(self, name: str) -> ComputeInstance:
        """The compute instance `name`, or `NotFound`."""

    @abstractmethod
    def list_compute_targets(self) -> list[ComputeInstance]:
        """Every compute instance, by name."""

    @abstractmethod
    def update_compute_target(self, name: str, **changes: Any) -> ComputeInstance:
        """Change some fields of instance `name` (ComputeInstance field names); `NotFound`."""

    @abstractmethod
    def delete_compute_target(self, name: str) -> None:
        """Forget instance `name` (its events stay); `NotFound` when missing."""

    # ----- clusters (issue 15; compute targets of kind "cluster" / "attached") ----------------
    @abstractmethod
    def create_cluster(self, cluster: ComputeCluster) -> ComputeCluster:
        """Store a new cluster (`AlreadyExists` if any compute target has the name); sets its times."""

    @abstractmethod
    def get_cluster(self, name: str) -> ComputeCluster:
        """The cluster `name`, or `NotFound`."""

    @abstractmethod
    def list_clusters(self) -> list[ComputeCluster]:
        """Every cluster and attached cluster, by name."""

    @abstractmethod
    def update_cluster(self, name: str, **changes: Any) -> ComputeCluster:
        """Change fields of cluster `name` (not its name or kind); `NotFound` when missing."""

    @abstractmethod
    def delete_cluster(self, name: str) -> None:
        """Forget cluster `name` (its events stay); `NotFound` when missing."""

    @abstractmethod
    def record_compute_event(
        self,
        target: str,
        kind: str,
        *,
        kernel_id: str | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        time_ms: int | None = None,
    ) -> ComputeEvent:
        """Record something that happened to an instance or its kernel (kinds: COMPUTE_EVENT_KINDS)."""

    @abstractmethod
    def list_compute_events(
        self,
        target: str | None = None,
        *,
        kernel_id: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[ComputeEvent]:
        """Compute events matching every filter, newest first (`after_id`: only later ones)."""

    # ----- jobs (issue 15; the persistent queue of jobs/) ----------------------------------------
    @abstractmethod
    def create_job(self, job: Job) -> Job:
        """Queue a new job (sets `submitted_ns` and `submitted_time`); `AlreadyExists` for a known id."""

    @abstractmethod
    def get_job(self, job_id: str) -> Job:
        """The job `job_id`, or `NotFound`."""

    @abstractmethod
    def list_jobs(
        self, states: Sequence[str] | None = None, target: str | None = None, limit: int = 500
    ) -> list[Job]:
        """Jobs in any of `states` on `target` (None: all), newest first."""

    @abstractmethod
    def update_job(self, job_id: str, expect: Mapping[str, Any] | None = None, **changes: Any) -> Job:
        """Change fields of job `job_id` when its fields still equal `expect` (compare-and-set),
        else `Conflict`; `NotFound` when missing."""

    @abstractmethod
    def append_job_logs(self, job_id: str, chunks: Sequence[Sequence[Any]]) -> int:
        """Append (attempt, stream, text, time_ms) chunks to the job's live output."""

    @abstractmethod
    def job_logs(self, job_id: str, since: int = 0, limit: int = 5000) -> list[JobLogChunk]:
        """The job's output chunks after cursor `since`, oldest first."""

    @abstractmethod
    def beat_job_dispatcher(self, dispatcher_id: str, kind: str) -> None:
        """Record that dispatcher `dispatcher_id` (kind "server" or "process") is alive now."""

    @abstractmethod
    def job_dispatchers(self, max_age_ms: int | None = None) -> list[tuple[str, str, int]]:
        """(id, kind, heartbeat ms) of the dispatchers seen within `max_age_ms` (None: all)."""

    @abstractmethod
    def drop_job_dispatcher(self, dispatcher_id: str) -> None:
        """Forget a dispatcher that stopped."""

    # ----- data assets (issue 16; versioned file sets, content-addressed like models) -------------
    @abstractmethod
    def create_data_version(
        self,
        name: str,
        *,
        files: Sequence[ModelFile],
        sha256: str,
        size_bytes: int,
        source: str = "",
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        source_run_id: str | None = None,
    ) -> DataVersion:
        """The next version of data asset `name` (created with its first version), whose files are
        already stored as blobs."""

    @abstractmethod
    def get_data_version(self, name: str, version: int | None = None) -> DataVersion:
        """Version `version` of data asset `name` (None: the latest), or `NotFound`."""

    @abstractmethod
    def list_data_assets(self) -> list[DataAsset]:
        """Every data asset with its latest version number, by name."""

    @abstractmethod
    def list_data_versions(self, name: str) -> list[DataVersion]:
        """Every version of data asset `name`, oldest first (`NotFound` for an unknown name)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (kind, redacted URL, schema version) for `info` commands."""

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""

    # ----- conveniences built on the core ---------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called `name`, creating it first if needed (safe under concurrency).

        A soft-deleted experiment of that name is a `Conflict`, as MLflow's `set_experiment` is:
        runs logged into it would be hidden from every listing."""
        found = self.get_experiment_by_name(name)
        if found is None:
            try:
                return self.create_experiment(name)
            except AlreadyExists:
                found = self.get_experiment_by_name(name)
                if found is None:  # pragma: no cover - deleted between the two calls
                    raise NotFound(f"Experiment {name!r} vanished while it was being created.") from None
        if found.lifecycle_stage == "deleted":
            raise Conflict(
                f"Experiment {found.name!r} is deleted: restore it, or delete it permanently "
                "to use its name for a new one."
            )
        return found

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """One metric point, durable when this returns (a batch of one)."""
        self.log_batch(
            run_id, metrics=[Metric(key, value, step, now_ms() if timestamp is None else timestamp)]
        )

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """One param (immutable once set)."""
        self.log_batch(run_id, params={key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Several params in one write."""
        self.log_batch(run_id, params=params)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """One tag (tags can be overwritten)."""
        self.log_batch(run_id, tags={key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Several tags in one write."""
        self.log_batch(run_id, tags=tags)

    def end_run(self, run_id: str, status: RunStatus | str, reason: str | None = None) -> RunInfo:
        """Move a run to a terminal status with the end time now."""
        return self.update_run(run_id, status=status, end_time=now_ms(), status_reason=reason)

    def get_run_info(self, run_id: str) -> RunInfo:
        """Just the info of a run."""
        return self.get_run(run_id).info

    def iter_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = 1000,
        view: str = "active",
    ) -> Iterable[RunTable]:
        """Every page of a search, following page tokens."""
        token: str | None = None
        while True:
            page = self.search_runs(experiment_ids, filter, order_by, page_size, token, view)
            yield page
            token = page.next_page_token
            if token is None:
                return

    def running_runs(self) -> list[RunInfo]:
        """Every run whose status is `running` (what the server's supervisor watches), soft-deleted
        ones included: a deleted run whose kernel dies must still end."""
        found: list[RunInfo] = []
        for page in self.iter_runs(filter="status = 'running'", view="all"):
            found.extend(page.runs)
        return found

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
