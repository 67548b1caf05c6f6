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
)


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


# ----- model registry and endpoints (issue 8) ------------------------------------------------
def _tags(data: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(data or {}).items()}


@dataclass(frozen=True)
class ModelFile:
    """One file of a model version: its path inside the version and its content's sha256."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class RegisteredModel:
    """A model name in the registry: its versions count up from 1, its aliases point at one each."""

    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    created_time: int = 0
    updated_time: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_version": self.latest_version,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=data["name"],
            description=data.get("description") or "",
            tags=_tags(data.get("tags")),
            aliases={str(k): int(v) for k, v in dict(data.get("aliases") or {}).items()},
            latest_version=data.get("latest_version"),
            created_time=int(data.get("created_time") or 0),
            updated_time=int(data.get("updated_time") or 0),
        )


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its files (content-addressed), flavor, signature, lineage and trust.

    `sha256` is the manifest's digest (models/files.py): it names the exact files. `trusted`
    lets the loading gate open formats that run code (pickle, the python flavor);
    `trusted_types` lists the skops types the user accepted.
    """

    name: str
    version: int
    flavor: str
    files: tuple[ModelFile, ...]
    sha256: str
    size_bytes: int
    signature: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    source_run_id: str | None = None
    source_path: str | None = None
    trusted: bool = False
    trusted_types: tuple[str, ...] = ()
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created_time: int = 0

    @property
    def ref(self) -> str:
        """'name:version', a reference that always names this version."""
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "flavor": self.flavor,
            "files": [f.to_dict() for f in self.files],
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "signature": self.signature,
            "environment": dict(self.environment),
            "source_run_id": self.source_run_id,
            "source_path": self.source_path,
            "trusted": self.trusted,
            "trusted_types": list(self.trusted_types),
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
            "created_time": self.created_time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(
            name=data["name"],
            version=int(data["version"]),
            flavor=data["flavor"],
            files=tuple(ModelFile(f["path"], int(f["size"]), f["sha256"]) for f in data.get("files") or ()),
            sha256=data["sha256"],
            size_bytes=int(data.get("size_bytes") or 0),
            signature=data.get("signature"),
            environment=dict(data.get("environment") or {}),
            source_run_id=data.get("source_run_id"),
            source_path=data.get("source_path"),
            trusted=bool(data.get("trusted")),
            trusted_types=tuple(data.get("trusted_types") or ()),
            description=data.get("description") or "",
            tags=_tags(data.get("tags")),
            aliases=tuple(data.get("aliases") or ()),
            created_time=int(data.get("created_time") or 0),
        )


@dataclass(frozen=True)
class Deployment:
    """A model version behind an endpoint, with its share of the traffic (percent)."""

    name: str
    model: str
    version: int
    traffic: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "version": self.version,
            "traffic": self.traffic,
            "sha256": self.sha256,
        }


ENDPOINT_STATES = ("creating", "running", "updating", "failed", "stopped")


@dataclass(frozen=True)
class Endpoint:
    """A scoring endpoint: deployments served by `replicas` processes sharing one port.

    `key_hashes` ("primary"/"secondary" -> sha256 hex) never leave the server: REST answers,
    logs and errors leave them out. `owner` ("host:pid") is the endpoint manager running it,
    `owner_heartbeat` its last sign of life (ms). `stats` is written by that manager.
    """

    name: str
    deployments: tuple[Deployment, ...] = ()
    replicas: int = 1
    host: str = "127.0.0.1"
    port: int | None = None
    key_hashes: dict[str, str] = field(default_factory=dict)
    state: str = "creating"
    state_reason: str | None = None
    owner: str | None = None
    owner_heartbeat: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    max_body_bytes: int = 8 * 1024 * 1024
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_time: int = 0
    updated_time: int = 0

    def to_dict(self, *, with_keys: bool = False) -> dict[str, Any]:
        """JSON-able; the key hashes only when `with_keys` (the store's own use)."""
        data: dict[str, Any] = {
            "name": self.name,
            "deployments": [d.to_dict() for d in self.deployments],
            "replicas": self.replicas,
            "host": self.host,
            "port": self.port,
            "state": self.state,
            "state_reason": self.state_reason,
            "owner": self.owner,
            "owner_heartbeat": self.owner_heartbeat,
            "stats": dict(self.stats),
            "timeout_seconds": self.timeout_seconds,
            "max_body_bytes": self.max_body_bytes,
            "description": self.description,
            "tags": dict(self.tags),
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        }
        if with_keys:
            data["key_hashes"] = dict(self.key_hashes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoint:
        return cls(
            name=data["name"],
            deployments=tuple(
                Deployment(d["name"], d["model"], int(d["version"]), int(d["traffic"]), d["sha256"])
                for d in data.get("deployments") or ()
            ),
            replicas=int(data.get("replicas") or 1),
            host=data.get("host") or "127.0.0.1",
            port=data.get("port"),
            key_hashes=dict(data.get("key_hashes") or {}),
            state=data.get("state") or "creating",
            state_reason=data.get("state_reason"),
            owner=data.get("owner"),
            owner_heartbeat=data.get("owner_heartbeat"),
            stats=dict(data.get("stats") or {}),
            timeout_seconds=float(data.get("timeout_seconds") or 30.0),
            max_body_bytes=int(data.get("max_body_bytes") or 8 * 1024 * 1024),
            description=data.get("description") or "",
            tags=_tags(data.get("tags")),
            created_time=int(data.get("created_time") or 0),
            updated_time=int(data.get("updated_time") or 0),
        )
