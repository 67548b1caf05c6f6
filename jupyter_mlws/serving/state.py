"""What a replica serves: its deployments' loaded models, keys and limits (`State`).

Who calls this: `serving/replica.py` at start and on SIGHUP (`load_state(config, previous)`).
Each deployment's files are materialized from the artifact store and re-hashed against the
version's manifest (`models.files.materialize`, RELIABILITY S6), then loaded through the one
loading gate (`models.load_model`: trust checks, S1/S2). A reload reuses the models of
`previous` whose (deployment, version, sha256) did not change, so a key rotation or a
traffic change loads nothing. The replica swaps the whole `State` in one assignment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from .fastpath import FastPath
from .hosts import HostPolicy


@dataclass(frozen=True)
class Loaded:
    """One deployment ready to score."""

    name: str
    version: int
    sha256: str
    traffic: int
    predictor: Any
    signature: dict[str, Any] | None
    tag: bytes  # the JSON tail of every answer: ', "deployment": "blue", "version": 3}'
    fast: FastPath | None


@dataclass(frozen=True)
class State:
    """Everything a request reads; replaced as a whole on SIGHUP."""

    key_hashes: dict[str, str]
    deployments: tuple[Loaded, ...]
    cumulative: tuple[float, ...]
    max_body: int
    timeout: float
    hosts: HostPolicy


def _tag(name: str, version: int) -> bytes:
    return f', "deployment": {json.dumps(name)}, "version": {version:d}}}'.encode()


def load_state(config: dict[str, Any], previous: State | None = None) -> State:
    """Load the config's deployments (reusing those of `previous` with the same files)."""
    from ..entities import ModelVersion
    from ..models import load_model
    from ..models.files import materialize
    from ..store.artifacts import open_artifact_store

    reuse = {(d.name, d.sha256, d.version): d for d in (previous.deployments if previous else ())}
    artifacts = None
    loaded: list[Loaded] = []
    for dep in config["deployments"]:
        version = ModelVersion.from_dict(dep["version"])
        name, traffic = dep["name"], int(dep["traffic"])
        old = reuse.get((name, version.sha256, version.version))
        if old is not None:
            loaded.append(replace(old, traffic=traffic))
            continue
        if artifacts is None:
            artifacts = open_artifact_store(config["artifact_url"])
        folder = materialize(artifacts, version, config["cache_root"])
        predictor = load_model(folder, version)
        loaded.append(
            Loaded(
                name,
                version.version,
                version.sha256,
                traffic,
                predictor,
                version.signature,
                _tag(name, version.version),
                None if predictor.raw else FastPath.build(predictor, version.signature),
            )
        )
    total = sum(d.traffic for d in loaded) or 1
    cumulative, acc = [], 0.0
    for d in loaded:
        acc += d.traffic / total
        cumulative.append(acc)
    return State(
        key_hashes=dict(config.get("key_hashes") or {}),
        deployments=tuple(loaded),
        cumulative=tuple(cumulative),
        max_body=int(config.get("max_body_bytes") or 8 * 1024 * 1024),
        timeout=float(config.get("timeout_seconds") or 30.0),
        hosts=HostPolicy.from_config(config.get("host_policy"), str(config.get("host") or "127.0.0.1")),
    )
