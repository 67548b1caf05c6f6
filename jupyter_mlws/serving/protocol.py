"""The replica's HTTP/1.1 server: an `asyncio.Protocol`, no framework.

Who calls this: `serving/replica.py` creates one `HttpServer` per replica process, on a
socket it bound with SO_REUSEPORT, and gives it a `handle(method, path, headers, body)`
callable that answers `(status, json_bytes)`.

Decisions (latency: one-row p50 ≤ 1 ms, TOOLCHAIN's "HTTP latency trap"):
- TCP_NODELAY on every accepted socket; HTTP/1.1 keep-alive (HTTP/1.0 and
  `Connection: close` close after the answer); pipelined requests answered in order.
- The handler runs inline in the event loop (scoring is CPU-bound; a thread hop costs more
  than the prediction of one row); the common case — a whole request in one read — parses
  straight from the received bytes, and the answer goes out in one `write`.
- Limits: request head ≤ 16 KiB (431); `Content-Length` over the endpoint's body limit →
  413 before reading the body, then close; chunked bodies → 411 (send a Content-Length);
  `Expect: 100-continue` answered. Idle connections close after `IDLE_SECONDS`.
- A handler may answer later (`finish`): the connection then reads no further request until
  it has, so pipelined answers keep their order.
- Draining (`drain()`, on SIGTERM): the listener closes, idle connections close, busy ones
  close after their answer.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

MAX_HEAD = 16 * 1024
DISCARD_MAX = 64 * 1024 * 1024
IDLE_SECONDS = 75.0
#: handler(method, path, headers, body, conn) -> (status, json bytes) or (status, json bytes,
#: extra header lines), or None when it answers later through `conn.finish(status, body)`
#: (the replica's batched predictions).
Handler = Callable[
    [str, str, dict[str, str], bytes, "HttpProtocol"], "tuple[int, bytes] | tuple[int, bytes, bytes] | None"
]

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _error(code: str, message: str) -> bytes:
    import json

    return json.dumps({"error": code, "message": message}).encode()


class HttpServer:
    """The connections of one listening socket and the shared request handler."""

    def __init__(self, handler: Handler, max_body: Callable[[], int]) -> None:
        self.handler = handler
        self.max_body = max_body
        self.connections: set[HttpProtocol] = set()
        self.draining = False
        self._server: asyncio.AbstractServer | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpProtocol(self), sock=sock, backlog=1024)
        loop.call_later(5.0, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            if not conn.buf and not conn.busy and now - conn.last > IDLE_SECONDS:
                conn.close()
        if not self.draining:
            asyncio.get_running_loop().call_later(5.0, self._sweep)

    async def drain(self, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (up to `grace` seconds), close all."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.buf and not conn.busy:
                conn.close()
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.close()


class HttpProtocol(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    __slots__ = ("buf", "busy", "close_after", "discard", "last", "server", "transport")

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.last = time.monotonic()
        self.discard = 0  # bytes of a refused (413) body still to swallow before closing
        self.busy = False  # a deferred answer is pending (see `finish`)
        self.close_after = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.discard:
            self.discard -= len(data)
            if self.discard <= 0 and self.transport is not None:
                self.transport.close()
                self.transport = None
            return
        if self.buf:
            self.buf += data
            data = bytes(self.buf)
            self.buf.clear()
        start = 0
        size = len(data)
        while start < size and self.transport is not None and not self.busy:
            end = data.find(b"\r\n\r\n", start)
            if end < 0:
                if size - start > MAX_HEAD:
                    self._reply(431, _error("header_too_large", "Request head over 16 KiB."), True)
                    return
                break
            used = self._one(data, start, end)
            if used < 0:  # body incomplete
                break
            start = used
        if start < size and self.transport is not None:
            self.buf += data[start:]

    def _one(self, data: bytes, start: int, end: int) -> int:
        """Answer the request whose head is data[start:end]; the offset after it, or -1 (wait)."""
        lines = data[start:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._reply(400, _error("bad_request", "Malformed request line."), True)
            return len(data)
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._reply(400, _error("bad_request", "Malformed header line."), True)
                return len(data)
            headers[name.strip().lower()] = value.strip()
        close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
        if "transfer-encoding" in headers:
            self._reply(411, _error("length_required", "Send the body with a Content-Length."), True)
            return len(data)
        raw_length = headers.get("content-length", "0")
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self._reply(400, _error("bad_request", "Invalid Content-Length."), True)
            return len(data)
        limit = self.server.max_body()
        if length > limit:
            # Answer now, then swallow the body (up to DISCARD_MAX) so that a client that sends
            # it all before reading gets the 413 rather than a connection reset.
            remaining = length - (len(data) - end - 4)
            swallow = 0 < remaining <= DISCARD_MAX
            message = _error("payload_too_large", f"Request body over {limit} bytes.")
            self._reply(413, message, True, linger=swallow)
            if swallow:
                self.discard = remaining
            return len(data)
        body_start = end + 4
        if len(data) - body_start < length:
            if headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
                if len(data) == body_start:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    headers.pop("expect")
            return -1
        body = data[body_start : body_start + length]
        path = target.split("?", 1)[0]
        close = close or self.server.draining
        result = self.server.handler(method, path, headers, body, self)
        if result is None:
            self.busy, self.close_after = True, close
        else:
            extra = result[2] if len(result) > 2 else b""
            self._reply(result[0], b"" if method == "HEAD" else result[1], close, extra=extra)
        return body_start + length

    def finish(self, status: int, payload: bytes) -> None:
        """Answer the request the handler deferred, then go on with what the client sent since."""
        self.busy = False
        self._reply(status, payload, self.close_after)
        if self.buf and self.transport is not None:
            data = bytes(self.buf)
            self.buf.clear()
            self.data_received(data)

    def _reply(
        self, status: int, payload: bytes, close: bool, linger: bool = False, extra: bytes = b""
    ) -> None:
        if self.transport is None:
            return
        head = (
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n%s%s\r\n"
            % (
                status,
                _REASONS.get(status, "Unknown").encode(),
                len(payload),
                extra,
                b"Connection: close\r\n" if close else b"",
            )
        )
        self.transport.write(head + payload)
        if close and not linger:
            self.transport.close()
            self.transport = None
