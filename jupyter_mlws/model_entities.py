"""Domain types of the model registry and scoring endpoints (issue 8).

Split from `entities.py` (which re-exports every name here) so each file stays one subject;
import them from `jupyter_mlws.entities` as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class DataVersion:
    """One version of a data asset (issue 16): its files, content-addressed as a model version's
    (`files` manifest, `sha256` its digest, `models/files.py`), where they came from (`source`: a
    folder, a glob, a file or an fsspec URL, as given), and who registered it."""

    name: str
    version: int
    files: tuple[ModelFile, ...]
    sha256: str
    size_bytes: int
    source: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source_run_id: str | None = None
    created_time: int = 0

    @property
    def ref(self) -> str:
        """ "name:version", as jobs take it (`inputs={"data": "data:" + ref}`)."""
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "files": [f.to_dict() for f in self.files],
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "source": self.source,
            "description": self.description,
            "tags": dict(self.tags),
            "source_run_id": self.source_run_id,
            "created_time": self.created_time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataVersion:
        files = tuple(
            ModelFile(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in data.get("files") or []
        )
        return cls(
            name=data["name"],
            version=int(data["version"]),
            files=files,
            sha256=data["sha256"],
            size_bytes=int(data["size_bytes"]),
            source=data.get("source") or "",
            description=data.get("description") or "",
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            source_run_id=data.get("source_run_id"),
            created_time=int(data.get("created_time") or 0),
        )


@dataclass(frozen=True)
class DataAsset:
    """A data asset's name and its newest version (`ws.data.list()`)."""

    name: str
    latest_version: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_time: int = 0
    updated_time: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "description": self.description,
            "tags": dict(self.tags),
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        }


#: The settings of a batch endpoint's jobs (`ws.jobs.batch_score`'s), with Azure ML's defaults.
BATCH_SETTINGS: dict[str, Any] = {
    "mini_batch_size": 10,
    "error_threshold": -1,
    "max_retries": 3,
    "timeout": 30.0,
    "output_action": "append_row",
    "output_file": "predictions.csv",
}


@dataclass(frozen=True)
class BatchEndpoint:
    """A named batch endpoint (issue 16): a model reference, a cluster and the settings every batch
    job it starts gets, unless the invoke overrides them.

    `model` is kept as given ("diabetes@production") and resolved when a job starts, so an alias
    that moves takes the endpoint along. `defaults` holds the `BATCH_SETTINGS`; `entry_script` is
    the file name of an entry script and `entry_source` its text (None where the endpoint was read
    over REST: the source stays on the server). `key_hashes` ("primary"/"secondary" -> sha256 hex)
    never leave the server, as an endpoint's. `last_job_id` is the job its last invoke started.
    """

    name: str
    model: str | None
    target: str
    defaults: dict[str, Any] = field(default_factory=lambda: dict(BATCH_SETTINGS))
    entry_script: str | None = None
    entry_source: str | None = None
    key_hashes: dict[str, str] = field(default_factory=dict)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    last_job_id: str | None = None
    created_time: int = 0
    updated_time: int = 0

    def to_dict(self, *, with_keys: bool = False) -> dict[str, Any]:
        """JSON-able, without the entry script's source; the key hashes only when `with_keys`."""
        data: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "target": self.target,
            "defaults": dict(self.defaults),
            "entry_script": self.entry_script,
            "description": self.description,
            "tags": dict(self.tags),
            "last_job_id": self.last_job_id,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
        }
        if with_keys:
            data["key_hashes"] = dict(self.key_hashes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchEndpoint:
        return cls(
            name=data["name"],
            model=data.get("model"),
            target=data["target"],
            defaults=dict(data.get("defaults") or {}),
            entry_script=data.get("entry_script"),
            entry_source=data.get("entry_source"),
            key_hashes=dict(data.get("key_hashes") or {}),
            description=data.get("description") or "",
            tags=_tags(data.get("tags")),
            last_job_id=data.get("last_job_id"),
            created_time=int(data.get("created_time") or 0),
            updated_time=int(data.get("updated_time") or 0),
        )
