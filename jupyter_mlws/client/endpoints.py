"""`ws.endpoints`: scoring endpoints from Python (DESIGN.md §5).

    ep = ws.endpoints.deploy("churn", model="churn@production", replicas=2)
    ep.url, ep.keys.primary          # the keys are shown once: here
    ep.score(df)                     # -> list of predictions
    ws.endpoints.deploy("churn", model="churn:4", deployment="green", traffic=10)  # blue/green
    ep.update(traffic={"blue": 50, "green": 50}, replicas=3)
    ws.endpoints.regenerate_key("churn", "primary")  # -> the new key (old one dies within ~1 s)

Who runs the replicas: an EndpointManager (`serving/manager.py`). `deploy`/`update` write
the store and wait until the endpoint is `running`. DECISION (how deploy finds a manager):
every live manager keeps a heartbeat file under `<workspace>/serving/managers/`; when none
is alive (no Jupyter server with `serve_endpoints` on this workspace, no `jupyter mlws
endpoints serve`), this process starts an in-process manager thread that lives as long as
the process (its replicas stop with it); a server started later takes the endpoints over
when that process's lease lapses, and brings them back on the same port.

DECISION (keys): the store keeps only sha256 hashes (`Endpoint.key_hashes`); the plaintext
is in the handle returned by the call that created it (`deploy` of a new endpoint,
`regenerate_key`) and nowhere else. A handle from `get()` has no keys: pass `key=` to
`score` or regenerate one.

Where the rest is: one endpoint's handle (`EndpointHandle`, `EndpointKeys`: URL, scoring,
stats, update) in `endpoint_handle.py`; the store-side halves of `deploy` and `regenerate_key`
(`apply_deploy`, `regenerate_key`: traffic splits, keys) in `deployments.py`. All of them are
importable from here too. Batch endpoints (`deploy_batch`, ...): client/batch_endpoint_handle.py
(the Python API) and client/batch_endpoints.py (the store-side halves).
"""

from __future__ import annotations

import atexit
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ..entities import Endpoint
from ..errors import Unavailable
from ..serving import procs
from ..validation import validate_endpoint_name, validate_timeout_seconds
from .batch_endpoint_handle import BatchEndpointHandle, BatchEndpointsMixin
from .deployments import apply_deploy, regenerate_key, with_traffic
from .endpoint_handle import EndpointHandle, EndpointKeys

if TYPE_CHECKING:
    import pandas as pd

    from ..serving.manager import EndpointManager
    from ..store.base import MetadataStore
    from .workspace import Workspace

ENDPOINT_COLUMNS = [
    "name",
    "state",
    "url",
    "replicas",
    "deployments",
    "requests",
    "p50_ms",
    "p99_ms",
    "owner",
]
_MANAGERS: dict[str, EndpointManager] = {}
_MANAGERS_LOCK = threading.Lock()

__all__ = [
    "ENDPOINT_COLUMNS",
    "BatchEndpointHandle",
    "EndpointHandle",
    "EndpointKeys",
    "Endpoints",
    "apply_deploy",
    "regenerate_key",
    "stop_local_managers",
]


class Endpoints(BatchEndpointsMixin):
    """The endpoints of one workspace; its batch endpoints' part is `BatchEndpointsMixin`
    (client/batch_endpoint_handle.py: deploy_batch, get_batch, list_batch, delete_batch)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def _store(self) -> MetadataStore:
        return self.workspace.store

    def deploy(
        self,
        name: str,
        model: str,
        replicas: int | None = None,
        *,
        port: int | None = None,
        deployment: str = "blue",
        traffic: int | dict[str, int] | None = None,
        timeout_seconds: float | None = None,
        wait: float = 120.0,
    ) -> EndpointHandle:
        """Deploy `model` ("name", "name:3", "name@alias") as `deployment` of endpoint `name`.

        A new endpoint (1 replica unless `replicas`) gets fresh keys, in the returned handle only.
        On an existing endpoint, a new deployment name adds a blue/green deployment with `traffic`
        percent (default 0; the others keep their shares, scaled); an existing deployment name is
        re-pointed at `model`. Waits until the endpoint runs it (`wait` seconds at most).
        `timeout_seconds` (default 30) bounds each request's predict: 0.1 to 600 seconds."""
        if timeout_seconds is not None:
            validate_timeout_seconds(timeout_seconds)  # before a manager starts for nothing
        if self.workspace.is_remote:
            return self._deploy_remote(
                name, model, replicas, port, deployment, traffic, timeout_seconds, wait
            )
        self.ensure_manager()
        record, plain = apply_deploy(
            self._store,
            name,
            model,
            replicas=replicas,
            port=port,
            deployment=deployment,
            traffic=traffic,
            timeout_seconds=timeout_seconds,
        )
        keys = EndpointKeys(plain["primary"], plain["secondary"]) if plain else None
        return EndpointHandle(self, self._wait(record.name, wait), keys)

    def _deploy_remote(
        self,
        name: str,
        model: str,
        replicas: int | None,
        port: int | None,
        deployment: str,
        traffic: int | dict[str, int] | None,
        timeout_seconds: float | None,
        wait: float,
    ) -> EndpointHandle:
        """Through the server (`POST /endpoints`, which waits until the replicas run); a traffic
        split given as a dict is applied after, as on a folder workspace."""
        record, plain = self._store.deploy_endpoint(  # type: ignore[attr-defined]
            name,
            model=model,
            replicas=replicas,
            port=port,
            deployment=deployment,
            traffic=traffic if not isinstance(traffic, dict) else None,
            timeout_seconds=timeout_seconds,
        )
        keys = EndpointKeys(plain["primary"], plain["secondary"]) if plain else None
        handle = EndpointHandle(self, self._wait(record.name, wait), keys)
        if isinstance(traffic, dict):
            handle.update(traffic=traffic)
        return handle

    def reconfigure(
        self, name: str, *, traffic: dict[str, int] | None = None, replicas: int | None = None
    ) -> Endpoint:
        """Change the traffic split and/or the replicas of endpoint `name`; waits until running."""
        if self.workspace.is_remote:
            self._store.reconfigure_endpoint(name, replicas=replicas, traffic=traffic)  # type: ignore[attr-defined]
            return self._wait(name)
        record = self._store.get_endpoint(name)
        changes: dict[str, Any] = {"state": "updating", "state_reason": None}
        if replicas is not None:
            changes["replicas"] = replicas
        if traffic is not None:
            changes["deployments"] = with_traffic(record.deployments, traffic)
        self._store.update_endpoint(name, **changes)
        return self._wait(name)

    def get(self, name: str) -> EndpointHandle:
        """A handle on endpoint `name` (no keys: they are shown only once)."""
        return EndpointHandle(self, self._store.get_endpoint(name))

    def list(self) -> pd.DataFrame:
        """Every endpoint, one row each."""
        import pandas as pd

        rows = []
        for ep in self._store.list_endpoints():
            handle = EndpointHandle(self, ep)
            rows.append(
                {
                    "name": ep.name,
                    "state": ep.state,
                    "url": handle.url if ep.port else None,
                    "replicas": ep.replicas,
                    "deployments": ", ".join(
                        f"{d.name}={d.model}:{d.version} ({d.traffic}%)" for d in ep.deployments
                    ),
                    "requests": ep.stats.get("requests", 0),
                    "p50_ms": ep.stats.get("p50_ms"),
                    "p99_ms": ep.stats.get("p99_ms"),
                    "owner": ep.owner,
                }
            )
        return pd.DataFrame(rows, columns=ENDPOINT_COLUMNS)

    def delete(self, name: str, *, wait: float = 10.0) -> None:
        """Delete the endpoint; its manager stops the replicas (waits until the port is closed)."""
        record = self._store.get_endpoint(name)
        self._store.delete_endpoint(name)
        deadline = time.monotonic() + wait
        while record.port and not self.relayed and time.monotonic() < deadline:
            try:
                socket.create_connection((record.host, record.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def logs(self, name: str, lines: int = 200) -> str:
        """What the replicas of endpoint `name` printed last (entry script prints, warnings,
        tracebacks of failed requests), stamped with time and replica pid (serving/logs.py)."""
        from ..serving.logs import read_tail

        if self.workspace.is_remote:
            return self._store.endpoint_logs(validate_endpoint_name(name), lines)  # type: ignore[attr-defined,no-any-return]
        record = self._store.get_endpoint(validate_endpoint_name(name))  # NotFound first
        return read_tail(procs.serving_dir(self.workspace.location.workspace) / record.name, lines)

    def regenerate_key(self, name: str, slot: str = "primary") -> str:
        """A new key for `slot` ("primary"/"secondary"); the old one stops working within ~1 s."""
        if self.workspace.is_remote:
            return self._store.regenerate_endpoint_key(validate_endpoint_name(name), slot)  # type: ignore[attr-defined,no-any-return]
        return regenerate_key(self._store, name, slot)

    @property
    def relayed(self) -> bool:
        """Whether scoring goes through the server's relay (`POST /endpoints/{name}/score`): for a
        workspace URL whose server is on another machine, where the replicas' loopback port is not
        reachable. On this machine a handle scores on the replicas' port directly."""
        if not self.workspace.is_remote:
            return False
        from ..store.rest_connect import is_loopback

        return not is_loopback(self._store.http.host)  # type: ignore[attr-defined]

    # --- manager --------------------------------------------------------------------------

    def ensure_manager(self) -> EndpointManager | None:
        """Start an in-process manager when no manager is alive for this workspace (see above)."""
        if self.workspace.is_remote:
            return None  # the server behind the REST store runs the endpoints
        where = self.workspace.location.workspace
        folder = procs.serving_dir(where)
        with _MANAGERS_LOCK:
            mine = _MANAGERS.get(str(folder))
            if mine is not None:
                return mine
            if procs.live_managers(folder):
                return None
            from ..serving.manager import EndpointManager

            manager = EndpointManager(self._store, self.workspace.artifact_store, where).start()
            if not _MANAGERS:
                atexit.register(stop_local_managers)  # release the endpoints for the next manager
            _MANAGERS[str(folder)] = manager
            return manager

    def _wait(self, name: str, wait: float = 120.0) -> Endpoint:
        deadline = time.monotonic() + wait
        while True:
            record = self._store.get_endpoint(name)
            if record.state == "running":
                return record
            if record.state == "failed":
                raise Unavailable(f"endpoint {name!r} failed: {record.state_reason or 'see ep.logs()'}")
            if time.monotonic() > deadline:
                raise Unavailable(f"endpoint {name!r} is not running after {wait:g} s (state {record.state})")
            time.sleep(0.05)


def stop_local_managers() -> None:
    """Stop the in-process managers this process started (tests, interpreter exit)."""
    with _MANAGERS_LOCK:
        managers = list(_MANAGERS.values())
        _MANAGERS.clear()
    for manager in managers:
        manager.stop()
