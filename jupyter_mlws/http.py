"""The one outbound HTTP client of jupyter_mlws (STYLE.md rule 12).

Used by the REST store and the REST artifact store in kernels, scripts and
Dask workers, and by the endpoint client later. Standard library only
(`http.client`), so it costs nothing at import.

- Only `http` and `https` URLs; redirects are never followed (a redirect to a
  login page means the token was refused, and following redirects is how
  SSRF tricks travel).
- One kept-alive connection per thread, with TCP_NODELAY set: without it a
  kept-alive request stalls ~40 ms on Nagle + delayed ACK (TOOLCHAIN.md).
- Idempotent requests (GET, HEAD, PUT, DELETE, PATCH — ours only set values)
  are retried with backoff on connection failures and 502/503/504, for up to
  `retry_seconds`; POST only when the connection failed before the request
  was sent. The REST store makes its writes idempotent (client-chosen run ids
  and batch ids), so a retry never duplicates anything.
- Error answers `{"error", "message"}` come back as the matching `MLWSError`.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlsplit

from . import errors
from .errors import InvalidParameter, MLWSError, Unavailable

_RETRY_STATUS = {502, 503, 504}
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "PATCH"}
_ERRORS: dict[str, type[MLWSError]] = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, MLWSError) and cls is not MLWSError
}
CHUNK = 1024 * 1024


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class HttpClient:
    """Requests to one server (`base_url`), authenticated with a Jupyter token (never in a repr)."""

    def __repr__(self) -> str:
        return f"<HttpClient {self.base}>"

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = 60.0, retry_seconds: float = 30.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidParameter(f"Only http(s):// server URLs are supported, not {base_url!r}.")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.base = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{self.prefix}"
        self.token = token
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._local = threading.local()

    # ----- connections -------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop_connection()

    # ----- requests ----------------------------------------------------------
    def url(self, path: str, query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> str:
        target = self.prefix + path
        if query:
            items = query.items() if isinstance(query, Mapping) else query
            pairs = [(k, v) for k, v in items if v is not None]
            if pairs:
                target += "?" + urlencode(pairs)
        return target

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | BinaryIO | None = None,
        query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        stream_to: BinaryIO | None = None,
        retry_seconds: float | None = None,
    ) -> Response:
        """Send a request; raise the matching MLWSError on an error answer.

        `body` may be a file object (sent in chunks, without reading it into
        memory; it is rewound before a retry). With `stream_to`, a successful
        answer's body is copied there in chunks instead of being returned. `retry_seconds`
        overrides the client's retry window for this request.
        """
        send_headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            send_headers["Authorization"] = f"token {self.token}"
        payload: bytes | BinaryIO | None = body
        if json_body is not None:
            payload = json.dumps(json_body, allow_nan=False).encode()
            send_headers["Content-Type"] = "application/json"
        start_pos = payload.tell() if hasattr(payload, "tell") else None
        target = self.url(path, query)
        deadline = time.monotonic() + (self.retry_seconds if retry_seconds is None else retry_seconds)
        attempt = 0
        while True:
            attempt += 1
            sent = False
            try:
                conn = self._connection()
                if start_pos is not None:
                    payload.seek(start_pos)  # type: ignore[union-attr]
                conn.putrequest(method, target, skip_accept_encoding=True)
                for name, value in send_headers.items():
                    conn.putheader(name, value)
                if payload is None:
                    conn.putheader("Content-Length", "0")
                elif isinstance(payload, bytes):
                    conn.putheader("Content-Length", str(len(payload)))
                else:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                sent = True
                _send_body(conn, payload)
                raw = conn.getresponse()
                if stream_to is not None and raw.status < 300:
                    while chunk := raw.read(CHUNK):
                        stream_to.write(chunk)
                    data = b""
                else:
                    data = raw.read()
                response = Response(raw.status, raw.headers, data)
                if raw.getheader("Connection", "").lower() == "close":
                    self._drop_connection()
            except (OSError, http.client.HTTPException) as err:
                self._drop_connection()
                retryable = method in _IDEMPOTENT or not sent
                if not retryable or time.monotonic() >= deadline:
                    raise Unavailable(f"The workspace server {self.base} did not answer: {err}") from err
                _backoff(attempt)
                continue
            if response.status in _RETRY_STATUS and method in _IDEMPOTENT and time.monotonic() < deadline:
                _backoff(attempt)
                continue
            if response.status >= 300:
                raise _error_of(response)
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request(...)` and decode the JSON answer."""
        return self.request(method, path, **kwargs).json()


def path_segment(value: str) -> str:
    """Quote one URL path segment (a key with '/' stays one segment)."""
    return quote(value, safe="")


def _send_body(conn: http.client.HTTPConnection, payload: bytes | BinaryIO | None) -> None:
    if payload is None:
        return
    if isinstance(payload, bytes):
        conn.send(payload)
        return
    while chunk := payload.read(CHUNK):
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)) * (0.5 + random.random()))


def _error_of(response: Response) -> MLWSError:
    if 300 <= response.status < 400:
        return errors.Forbidden(
            "The workspace server redirected the request (usually to its login page): "
            "check the token ($MLWS_TOKEN)."
        )
    try:
        body = json.loads(response.body)
        code, message = str(body["error"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", response.body[:300].decode("utf-8", "replace") or f"HTTP {response.status}"
    cls = _ERRORS.get(code)
    if cls is None:
        cls = {403: errors.Forbidden, 404: errors.NotFound, 413: errors.PayloadTooLarge}.get(
            response.status, Unavailable if response.status >= 500 else InvalidParameter
        )
    return cls(message)
