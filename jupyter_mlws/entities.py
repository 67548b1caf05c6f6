"""Domain types shared by every store, the Python API and (later) the REST layer.

Plain dataclasses and named tuples only: stores return these, never ORM rows,
so a REST store can build the same objects from JSON. `Metric` is a
`NamedTuple` on purpose: the metric logger creates one per `log_metric` call
and a tuple is the cheapest object Python can build.

Run lifecycle (DESIGN.md §3): `queued -> running -> completed | failed |
killed | canceled`; `queued` may also end directly (a job canceled before it
started). Terminal states are final: `check_transition` refuses to leave them,
which is what stops a late heartbeat from resurrecting a killed run (K5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from .errors import Conflict, InvalidParameter


class RunStatus(str, Enum):
    """The six run statuses of DESIGN.md §5, spelled as users see them."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True for the four end states."""
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)

    @classmethod
    def parse(cls, value: str | RunStatus) -> RunStatus:
        """A status from its name (case-insensitive); InvalidParameter lists the valid ones."""
        if isinstance(value, RunStatus):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidParameter(f"Unknown run status {value!r}: use one of {names}.") from None


_ALLOWED = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.FAILED, RunStatus.KILLED, RunStatus.CANCELED},
    RunStatus.RUNNING: {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.CANCELED},
}


def check_transition(current: RunStatus, new: RunStatus) -> None:
    """Raise Conflict unless `current -> new` is a valid step (staying put is always valid)."""
    if current == new:
        return
    if new not in _ALLOWED.get(current, set()):
        raise Conflict(
            f"A run cannot go from {current.value!r} to {new.value!r}"
            + (" (it has already ended)." if current.is_terminal else ".")
        )


class Metric(NamedTuple):
    """One metric point: `timestamp` in milliseconds since the Unix epoch (UTC)."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    experiment_id: int
    name: str
    artifact_location: str | None
    created_time: int
    last_update_time: int
    #: "active" or "deleted" (MLflow's soft delete; see mlflow_entities.py).
    lifecycle_stage: str = "active"
    # Left out of the hash so an experiment stays hashable, as it was before it had tags.
    tags: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(slots=True)
class RunInfo:
    """Everything about a run except its params, metrics and tags (times in ms since epoch).

    Not frozen on purpose: a search builds thousands of these, and a frozen
    dataclass costs ten times more to construct. Stores never keep or reuse
    the instances they return, so changing one changes nothing stored.
    """

    run_id: str
    experiment_id: int
    name: str
    status: RunStatus
    start_time: int | None
    end_time: int | None
    heartbeat_time: int | None
    source_kind: str = "api"
    compute_target: str = "local"
    notebook_path: str | None = None
    cell_id: str | None = None
    parent_run_id: str | None = None
    user: str | None = None
    status_reason: str | None = None
    host: str | None = None
    pid: int | None = None
    kernel_id: str | None = None
    lifecycle_stage: str = "active"


@dataclass(frozen=True)
class RunData:
    """A run's params and tags (strings) and its latest metric value per key."""

    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """A run as a store returns it: info plus data."""

    info: RunInfo
    data: RunData


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as the metadata store records it (the bytes live in the artifact store)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class MetricSeries:
    """The history of one metric key as three parallel columns (lists or numpy arrays).

    `total_points` is the stored length; it is larger than `len(steps)` when
    the series was downsampled. `cursor` is what to pass as `since` next time
    to get only the points logged after this read (points count in log order).
    """

    key: str
    steps: Any
    timestamps: Any
    values: Any
    total_points: int
    cursor: int | None = None


@dataclass(frozen=True)
class RunTable:
    """One page of a run search, column-oriented so a DataFrame is built without loops.

    `runs` holds the infos in result order; `params`, `metrics` and `tags`
    map a key to a list aligned with `runs` (None where a run lacks the key).
    `next_page_token` is None on the last page.
    """

    runs: list[RunInfo]
    experiment_names: list[str]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]
    tags: dict[str, list[str | None]]
    next_page_token: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """What changed in a store after a cursor: events for the browser and the next cursor.

    Each event is a JSON-ready dict with `action` (`created`, `updated`, `metrics`, or
    `resync` when the reader fell too far behind), `run_id`, `experiment_id`, `status`, `name`.
    """

    events: list[dict[str, Any]]
    cursor: int


#: Outcomes of a recorded cell execution.
EXECUTION_STATUSES = ("ok", "error", "interrupted")


@dataclass(slots=True)
class CellExecution:
    """One cell execution seen by the execution recorder (notebook/recorder.py).

    `run_id` is the run the cell belonged to (a `%%mlrun` cell's run, or the
    run open in the kernel), None when no run was active. Times in ms.
    `execution_id` is assigned by the store.
    """

    source: str
    start_time: int
    duration_ms: int
    status: str = "ok"
    run_id: str | None = None
    notebook_path: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    kernel_id: str | None = None
    error: str | None = None
    execution_id: int | None = None


#: Instance `X` is the kernelspec `mlws-X` (DESIGN.md §5).
KERNELSPEC_PREFIX = "mlws-"

#: What a compute event records (`ComputeEvent.kind`).
COMPUTE_EVENT_KINDS = (
    "created",
    "updated",
    "deleted",
    "kernel_started",
    "kernel_stopped",
    "idle_warning",
    "idle_shutdown",
    "keep_alive",
    "limit_stopped",
    # training clusters (issue 15): nodes Dask's adaptive scaling added or retired, and why
    "cluster_started",
    "cluster_stopped",
    "node_added",
    "node_removed",
    "scaled",
)

#: What a cluster compute target is: one we start and scale, or one somebody else runs.
CLUSTER_KINDS = ("cluster", "attached")


@dataclass(frozen=True)
class ComputeInstance:
    """A compute instance: a named kernel size (DESIGN.md §1), validated by `compute.spec`.

    `None` means "no limit" for `cpus` and `memory_bytes`, and "never" for
    `idle_shutdown_minutes`; `python` names another interpreter to run the
    kernel in (None: the server's own). Times are ms since the epoch.
    """

    name: str
    cpus: int | None = None
    memory_bytes: int | None = None
    gpus: int = 0
    idle_shutdown_minutes: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    description: str = ""
    created_time: int = 0
    updated_time: int = 0

    @property
    def kernelspec(self) -> str:
        return KERNELSPEC_PREFIX + self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, keyed by field name (the stores and the kernelspec keep this)."""
        return {
            "name": self.name,
            "cpus": self.cpus,
            "memory_bytes": self.memory_bytes,
            "gpus": self.gpus,
            "idle_shutdown_minutes": self.idle_shutdown_minutes,
            "env": dict(self.env),
            "python": self.python,
            "description": self.description,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComputeInstance:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["env"] = dict(known.get("env") or {})
        return cls(**known)


@dataclass(frozen=True)
class ComputeCluster:
    """A training cluster (DESIGN.md §1): `kind` "cluster" is started and scaled by the server on
    Dask (`min_nodes`..`max_nodes` nodes of one size, idle nodes retired after
    `idle_seconds_before_scaledown`); "attached" is somebody else's Dask scheduler at `address`,
    used as it is and never scaled or stopped by us. `factory` names another Dask cluster class
    (dotted path) built with `factory_kwargs` (dask-jobqueue, dask-kubernetes, dask-gateway);
    empty means `distributed.LocalCluster`. Validated by `compute.clusters`."""

    name: str
    kind: str = "cluster"
    min_nodes: int = 0
    max_nodes: int = 1
    node_cpus: int = 1
    node_memory_bytes: int | None = None
    node_gpus: int = 0
    idle_seconds_before_scaledown: float = 120.0
    address: str | None = None
    factory: str = ""
    factory_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    created_time: int = 0
    updated_time: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, keyed by field name (the stores keep this)."""
        return {name: (dict(v) if isinstance(v, dict) else v) for name, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComputeCluster:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["factory_kwargs"] = dict(known.get("factory_kwargs") or {})
        return cls(**known)


@dataclass(frozen=True)
class ComputeEvent:
    """Something that happened to a compute instance or one of its kernels (ms since epoch)."""

    event_id: int
    target: str
    kind: str
    time: int
    kernel_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "target": self.target,
            "kind": self.kind,
            "time": self.time,
            "kernel_id": self.kernel_id,
            "reason": self.reason,
            "details": dict(self.details),
        }


JOB_KINDS = ("command", "notebook", "function", "cell", "batch", "sweep")
JOB_STATES = ("queued", "running", "completed", "failed", "canceled", "killed")
JOB_ENDED = ("completed", "failed", "canceled", "killed")


@dataclass
class Job:
    """A submitted job (issue 15): one entry of the persistent queue, run on a cluster's node as a
    run per attempt. `state` follows its current run (`queued`, `running`, then `completed`,
    `failed`, `canceled` or `killed`, with `state_reason` in words); `spec` is what was submitted
    (argv or notebook or function payload, code snapshot, inputs, environment variables, resources,
    timeout). `owner` is the dispatcher that took it, `node` the worker it runs on and `pid` its
    process there. Times are ms since the epoch; `submitted_ns` orders the queue."""

    job_id: str
    name: str
    kind: str
    target: str
    experiment_id: int
    run_id: str
    state: str = "queued"
    state_reason: str | None = None
    priority: int = 0
    attempt: int = 1
    max_retries: int = 0
    spec: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    node: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    cancel_requested: bool = False
    submitted_ns: int = 0
    submitted_time: int = 0
    started_time: int | None = None
    ended_time: int | None = None

    @property
    def ended(self) -> bool:
        """True once the job reached one of its four end states."""
        return self.state in JOB_ENDED

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, keyed by field name (REST bodies)."""
        return {name: (dict(v) if isinstance(v, dict) else v) for name, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["spec"] = dict(known.get("spec") or {})
        return cls(**known)


@dataclass(frozen=True)
class JobLogChunk:
    """Output a job printed: `cursor` is the value to pass as `since` to read what follows."""

    cursor: int
    attempt: int
    stream: str
    text: str
    time_ms: int


# The registry's and endpoints' types live in model_entities.py, MLflow's lifecycle and logged models in
# mlflow_entities.py; they are part of this module's names.
from .mlflow_entities import LIFECYCLE_STAGES as LIFECYCLE_STAGES  # noqa: E402
from .mlflow_entities import LOGGED_MODEL_STATUSES as LOGGED_MODEL_STATUSES  # noqa: E402
from .mlflow_entities import VIEWS as VIEWS  # noqa: E402
from .mlflow_entities import LoggedModel as LoggedModel  # noqa: E402
from .model_entities import ENDPOINT_STATES as ENDPOINT_STATES  # noqa: E402
from .model_entities import DataAsset as DataAsset  # noqa: E402
from .model_entities import DataVersion as DataVersion  # noqa: E402
from .model_entities import Deployment as Deployment  # noqa: E402
from .model_entities import Endpoint as Endpoint  # noqa: E402
from .model_entities import ModelFile as ModelFile  # noqa: E402
from .model_entities import ModelVersion as ModelVersion  # noqa: E402
from .model_entities import RegisteredModel as RegisteredModel  # noqa: E402
