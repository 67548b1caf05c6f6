"""`EndpointHandle`: one scoring endpoint from Python, as `ws.endpoints.deploy/get` return it.

Who calls it: `Endpoints` (client/endpoints.py) makes the handles; `jupyter mlws endpoints` and the
server read `EndpointHandle(...).url`. `score` posts to the replicas directly (one kept-alive
connection per thread) with the bearer key; `update` writes the store and waits until running.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..entities import Endpoint
from ..errors import Forbidden, InvalidParameter, MLWSError, NotFound, PayloadTooLarge, Unavailable

if TYPE_CHECKING:
    from .endpoints import Endpoints

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
        self.record = self._endpoints.reconfigure(self.name, traffic=traffic, replicas=replicas)
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
        if self._endpoints.relayed:
            store: Any = self._endpoints._store
            answer, raw = store.score_through_server(self.name, body, key, "application/json")
            return answer if raw else list(answer["predictions"])
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
