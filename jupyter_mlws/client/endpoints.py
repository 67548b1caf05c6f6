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

`apply_deploy(store, ...)` and `regenerate_key(store, ...)` are the store-side halves of
`deploy` and `regenerate_key`, shared with the server's REST handlers.
"""

from __future__ import annotations

import atexit
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..entities import Deployment, Endpoint
from ..errors import Forbidden, InvalidParameter, MLWSError, NotFound, PayloadTooLarge, Unavailable
from ..serving import keys as keymod
from ..serving import procs
from ..validation import validate_endpoint_name, validate_timeout_seconds

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
_STATUS_ERRORS: dict[int, type[MLWSError]] = {
    400: InvalidParameter,
    401: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    503: Unavailable,
    504: Unavailable,
}


@dataclass(frozen=True)
class EndpointKeys:
    """Plaintext scoring keys; None where this handle did not create them."""

    primary: str | None = None
    secondary: str | None = None

    def __repr__(self) -> str:  # never print keys by accident
        shown = [slot for slot in ("primary", "secondary") if getattr(self, slot)]
        return f"<EndpointKeys {', '.join(shown) or 'none'} (hidden)>"


class EndpointHandle:
    """One endpoint: its URL, keys (when known), scoring and stats."""

    def __init__(self, endpoints: Endpoints, record: Endpoint, keys: EndpointKeys | None = None) -> None:
        self._endpoints = endpoints
        self.record = record
        self.keys = keys or EndpointKeys()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<Endpoint {self.name} {self.record.state} {self.url}>"

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def url(self) -> str:
        """The base URL: `POST {url}/score`, `GET {url}/healthz`, `GET {url}/ready` (DESIGN.md §5)."""
        host = f"[{self.record.host}]" if ":" in self.record.host else self.record.host
        return f"http://{host}:{self.record.port}"

    @property
    def scoring_url(self) -> str:
        """`{url}/score`: POST JSON records, split orientation or CSV here, with the bearer key."""
        return f"{self.url}/score"

    def refresh(self) -> EndpointHandle:
        """Re-read the endpoint from the store."""
        self.record = self._endpoints._store.get_endpoint(self.name)
        return self

    def stats(self) -> dict[str, Any]:
        """Requests, errors and latency percentiles (ms), total and per deployment."""
        return dict(self.refresh().record.stats)

    def logs(self, lines: int = 200) -> str:
        """The replicas' last `lines` log lines (Azure ML's ``service.get_logs()``)."""
        return self._endpoints.logs(self.name, lines)

    def update(self, *, traffic: dict[str, int] | None = None, replicas: int | None = None) -> EndpointHandle:
        """Change the traffic split and/or the number of replicas; waits until running."""
        self.refresh()
        changes: dict[str, Any] = {"state": "updating", "state_reason": None}
        if replicas is not None:
            changes["replicas"] = replicas
        if traffic is not None:
            changes["deployments"] = _with_traffic(self.record.deployments, traffic)
        self.record = self._endpoints._store.update_endpoint(self.name, **changes)
        self.record = self._endpoints._wait(self.name)
        return self

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "port", None) != self.record.port:
            conn = http.client.HTTPConnection(self.record.host, self.record.port, timeout=timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn, self._local.port = conn, self.record.port
        return conn

    def score(self, data: Any, *, key: str | None = None, timeout: float = 60.0) -> Any:
        """Predictions for a DataFrame, a list of records, or a {"dataframe_split": ...} dict.

        An Azure-ML-style entry script (`run(raw_data)`) answers as it is: its answer comes back
        as it is (for it, `data` may also be the body as a str, e.g. '{"data": [[...]]}')."""
        key = key or self.keys.primary or self.keys.secondary
        if not key:
            raise InvalidParameter(f"no key for endpoint {self.name!r}: pass key=... or regenerate_key()")
        if isinstance(data, (str, bytes)):
            body = data.encode("utf-8") if isinstance(data, str) else data
        else:
            body = json.dumps(_payload(data), default=_default).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        for attempt in (0, 1):  # a kept-alive connection the replica closed: retry once on a new one
            conn = self._connection(timeout)
            try:
                conn.request("POST", "/score", body, headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise Unavailable(f"endpoint {self.name!r} did not answer at {self.url}") from None
        answer = json.loads(raw or b"{}")
        if resp.status != 200:
            error = _STATUS_ERRORS.get(resp.status, MLWSError)
            message = answer.get("message", "") if isinstance(answer, dict) else ""
            raise error(f"endpoint {self.name!r} answered {resp.status}: {message}")
        if resp.getheader("X-MLWS-Answer") == "raw":
            return answer
        return list(answer["predictions"])

    def delete(self) -> None:
        """Delete this endpoint (see `Endpoints.delete`)."""
        self._endpoints.delete(self.name)


class Endpoints:
    """The endpoints of one workspace."""

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
        while record.port and time.monotonic() < deadline:
            try:
                socket.create_connection((record.host, record.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def logs(self, name: str, lines: int = 200) -> str:
        """What the replicas of endpoint `name` printed last (entry script prints, warnings,
        tracebacks of failed requests), stamped with time and replica pid (serving/logs.py)."""
        from ..serving.logs import read_tail

        record = self._store.get_endpoint(validate_endpoint_name(name))  # NotFound first
        if self.workspace.location.store_kind == "rest":
            raise Unavailable("endpoint logs of a workspace URL are read through the server's REST API")
        return read_tail(procs.serving_dir(self.workspace.location.workspace) / record.name, lines)

    def regenerate_key(self, name: str, slot: str = "primary") -> str:
        """A new key for `slot` ("primary"/"secondary"); the old one stops working within ~1 s."""
        return regenerate_key(self._store, name, slot)

    # --- manager --------------------------------------------------------------------------

    def ensure_manager(self) -> EndpointManager | None:
        """Start an in-process manager when no manager is alive for this workspace (see above)."""
        if self.workspace.location.store_kind == "rest":
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


def apply_deploy(
    store: MetadataStore,
    name: str,
    model: str,
    *,
    replicas: int | None = None,
    port: int | None = None,
    deployment: str = "blue",
    traffic: int | dict[str, int] | None = None,
    timeout_seconds: float | None = None,
) -> tuple[Endpoint, dict[str, str] | None]:
    """Write a deploy to the store (see `Endpoints.deploy`); (the endpoint, plaintext keys of a
    NEW endpoint or None). Shared by `ws.endpoints` and the server's REST handler; the
    manager does the rest."""
    validate_endpoint_name(name)
    validate_endpoint_name(deployment)
    if timeout_seconds is not None:
        timeout_seconds = validate_timeout_seconds(timeout_seconds)
    version = store.resolve_model(model)
    try:
        current = store.get_endpoint(name)
    except NotFound:
        current = None
    if current is None:
        if traffic not in (None, 100) and not isinstance(traffic, dict):
            raise InvalidParameter("the first deployment of an endpoint takes all the traffic")
        plain, hashes = keymod.new_keys()
        record = Endpoint(
            name=name,
            deployments=(Deployment(deployment, model, version.version, 100, version.sha256),),
            replicas=1 if replicas is None else replicas,
            port=port,
            key_hashes=hashes,
            timeout_seconds=30.0 if timeout_seconds is None else float(timeout_seconds),
        )
        return store.create_endpoint(record), plain
    deps = list(current.deployments)
    names = [d.name for d in deps]
    if deployment in names:
        i = names.index(deployment)
        deps[i] = Deployment(deployment, model, version.version, deps[i].traffic, version.sha256)
    else:
        deps.append(Deployment(deployment, model, version.version, 0, version.sha256))
    if isinstance(traffic, dict):
        shares = traffic
    elif traffic is not None:
        shares = _rescaled(deps, deployment, int(traffic))
    else:
        shares = {d.name: d.traffic for d in deps}
    changes: dict[str, Any] = {"deployments": _with_traffic(tuple(deps), shares), "state": "updating"}
    if replicas is not None:
        changes["replicas"] = replicas
    if timeout_seconds is not None:
        changes["timeout_seconds"] = float(timeout_seconds)
    return store.update_endpoint(name, **changes, state_reason=None), None


def regenerate_key(store: MetadataStore, name: str, slot: str) -> str:
    """Replace the key of `slot` with a new one; the new plaintext (its hash goes to the store)."""
    if slot not in keymod.KEY_SLOTS:
        raise InvalidParameter("the key slot is 'primary' or 'secondary'")
    record = store.get_endpoint(name)
    key = keymod.new_key()
    store.update_endpoint(name, key_hashes={**record.key_hashes, slot: keymod.hash_key(key)})
    return key


def _rescaled(deps: list[Deployment], new: str, share: int) -> dict[str, int]:
    if not 0 <= share <= 100:
        raise InvalidParameter("traffic is a percentage from 0 to 100")
    others = [d for d in deps if d.name != new]
    total = sum(d.traffic for d in others) or 1
    out = {d.name: d.traffic * (100 - share) // total for d in others}
    if others:
        out[others[0].name] += 100 - share - sum(out.values())
    out[new] = share
    return out


def _with_traffic(deps: tuple[Deployment, ...], traffic: dict[str, int]) -> tuple[Deployment, ...]:
    unknown = set(traffic) - {d.name for d in deps}
    if unknown:
        raise InvalidParameter(f"no deployment named {', '.join(sorted(unknown))} on this endpoint")
    out = tuple(Deployment(d.name, d.model, d.version, int(traffic.get(d.name, 0)), d.sha256) for d in deps)
    if sum(d.traffic for d in out) != 100:
        raise InvalidParameter("the traffic of an endpoint's deployments must add up to 100")
    return out


def _payload(data: Any) -> Any:
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return {"dataframe_split": {"columns": [str(c) for c in data.columns], "data": data.values.tolist()}}
    if isinstance(data, (list, dict)):
        return data
    raise InvalidParameter(
        "score() takes a DataFrame, a list of records, a dataframe_split dict, or the body as text"
    )


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
