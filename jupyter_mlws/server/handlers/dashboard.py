"""`/mlws/api/v1/compute/clusters/{name}/dashboard/...`: a cluster's Dask dashboard, reached through
this Jupyter server and its authentication (issue 15, item 4).

- `GET/HEAD /compute/clusters/{name}/dashboard/{path}` — the dashboard's pages, scripts, styles
  and images, relayed from the running cluster's dashboard on 127.0.0.1 (`.../dashboard/status` is
  what the panel links to: `clusterDashboardUrl` in labextension/src/api/client.ts)
- `GET /compute/clusters/{name}/dashboard/{page}/ws` — bokeh's websocket of a page, relayed both ways

Who calls it: the browser. Dask's pages use relative links (`static/js/bokeh.min.js?v=...`,
`statics/css/base.css`, `workers`, `info/...`) and bokeh's script opens its socket at the page's
own path plus `/ws`, so everything a page needs comes back to these two routes.

Decisions:
- The address is the running cluster's, never the client's. The port is the scheduler's
  `dashboard` service and the host the scheduler's (what Dask's own `dashboard_link` is made of,
  read without its configurable link template); an attached cluster's comes from the link Dask
  reported. Only a dashboard on 127.0.0.1 (or `localhost`) is relayed, always to 127.0.0.1; any
  other host is a 409. The client picks only a path on that dashboard: the undecoded path is
  forwarded as it came (Dask's worker pages carry `%2F` in their names), and `.`/`..` segments
  (encoded or not), empty segments, backslashes and non-ASCII are refused (400).
- Nothing of the Jupyter session reaches the dashboard: only the request headers in
  `_FORWARDED_REQUEST` travel (never Cookie, Authorization, Origin, Referer or the XSRF header),
  and a `token` query parameter is dropped. Answers keep their status, Content-Type, length,
  encoding and caching headers; Set-Cookie and anything else stays behind. A redirect to the
  dashboard's own root (Dask's `/` answers `Location: /status`) is rewritten under this route, a
  relative one passes as it is, and one to any other place is dropped.
- Bodies stream: each chunk is written and flushed as it arrives, and tornado's client reads the
  next only once the flush is done (the streaming callback returns the flush), so a slow browser
  slows the dashboard's answer instead of filling memory.
- Pages carry jupyter_server's page policy (`frame-ancestors 'self'`), not the API's
  `default-src 'none'`, which would block bokeh's scripts. As with jupyter-server-proxy, the
  dashboard's pages run under the Jupyter origin: they are Dask's and bokeh's code from this
  environment.
- The websocket route is authenticated and authorized by `route()` like every route. Tornado's
  `@web.authenticated` would redirect an anonymous GET to the login page (what jupyter_server's
  `@ws_authenticated` avoids), but `APIHandler.get_login_url` turns that redirect into a 403, so
  both decorators answer the same here. A cookie-authenticated socket from another origin is
  refused by `JupyterHandler.check_origin` (token-authenticated ones skip it, as everywhere in
  jupyter_server). The dashboard's socket is opened before the browser's handshake is answered:
  the subprotocol bokeh picks (`bokeh`, with its session token as the second offer) is the one
  answered, and a dashboard that does not answer is a JSON 503 rather than a socket that opens and
  dies. Messages pass through unchanged in both directions, one at a time (each write awaited).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClosedError, WebSocketError, WebSocketHandler, websocket_connect

from ...errors import Conflict, InvalidParameter, NotFound, Unavailable
from .base import route
from .clusters import ClustersHandler

if TYPE_CHECKING:
    from tornado.websocket import WebSocketClientConnection

    from ...compute.dask_clusters import RunningCluster

_TAGS = ("compute",)
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_CONNECT_TIMEOUT = 5.0
_REQUEST_TIMEOUT = 120.0
_FORWARDED_REQUEST = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Cache-Control",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "Range",
)
_FORWARDED_ANSWER = (
    "Accept-Ranges",
    "Cache-Control",
    "Content-Encoding",
    "Content-Range",
    "ETag",
    "Expires",
    "Last-Modified",
    "Vary",
)
#: Close codes a peer reports but may not send (RFC 6455, 7.4.1).
_UNSENDABLE_CLOSE_CODES = (1005, 1006, 1015)


def local_dashboard_port(name: str, running: RunningCluster) -> int:
    """The port of cluster `name`'s dashboard on 127.0.0.1; NotFound when it has none, Conflict
    when it is on another host."""
    from distributed.comm import get_address_host

    services = (getattr(running.cluster, "scheduler_info", None) or {}).get("services") or {}
    host: str | None = None
    port: Any = services.get("dashboard")
    if port is not None:
        host = get_address_host(running.address)
    elif running.dashboard:
        link = urlsplit(running.dashboard)
        try:
            host, port = link.hostname, link.port
        except ValueError:
            port = None
    if port is None:
        raise NotFound(
            f"Cluster {name!r} runs without a Dask dashboard (bokeh is missing where its scheduler "
            "runs, or its backend started none)."
        )
    if host not in _LOCAL_HOSTS:
        raise Conflict(
            f"The dashboard of cluster {name!r} is on {host}, not on this machine's 127.0.0.1: "
            "the server relays local dashboards only."
        )
    return int(port)


def checked_dashboard_path(raw: str) -> str:
    """`raw` (an undecoded path on the dashboard) when it stays a plain path there, else InvalidParameter."""
    segments = raw.split("/")
    refused = (
        not raw.isascii()
        or any(ord(c) < 0x21 or c in "#\\" for c in raw)
        or any(not segment for segment in segments[:-1])
        or any(part in (".", "..") for part in unquote(raw).replace("\\", "/").split("/"))
    )
    if refused:
        raise InvalidParameter(
            "A dashboard path is a plain path on the dashboard: no '.' or '..' segments, empty "
            "segments, backslashes or non-ASCII characters."
        )
    return raw


def query_without_token(query: str) -> str:
    """The query string less any `token` parameter (Jupyter's credential stays here)."""
    kept = [part for part in query.split("&") if part and unquote(part.split("=", 1)[0]) != "token"]
    return "&".join(kept)


def dashboard_url(scheme: str, port: int, path: str, query: str) -> str:
    """The URL on the dashboard at 127.0.0.1:`port` (checked to be nowhere else)."""
    url = f"{scheme}://127.0.0.1:{port}/{path}"
    query = query_without_token(query)
    if query:
        url += f"?{query}"
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1" or parts.port != port:
        raise InvalidParameter("A dashboard path cannot name another host.")
    return url


def rewritten_location(location: str, base: str, port: int) -> str | None:
    """A dashboard's redirect target as seen from this route (`base` ends with `/dashboard/`);
    None for a target outside the dashboard."""
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        try:
            same = parts.scheme in ("http", "https") and parts.hostname in _LOCAL_HOSTS and parts.port == port
        except ValueError:
            same = False
        if not same:
            return None
        location = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if location.startswith("/"):
        return base + location.lstrip("/")
    return location


class DashboardRoute(ClustersHandler):
    """What the page route and the socket route share: where the dashboard is, which path on it."""

    @property
    def content_security_policy(self) -> str:
        # jupyter_server's page policy: the API's `default-src 'none'` would block bokeh's scripts.
        return super(APIHandler, self).content_security_policy  # type: ignore[no-any-return]

    async def dashboard_port(self, name: str) -> int:
        """The running cluster's dashboard port on 127.0.0.1 (404 unknown, 409 stopped or not local)."""
        running = self.clusters.running.get(name)
        if running is None:
            await self.services.run(self.services.store.get_cluster, name)  # NotFound when unknown
            raise Conflict(
                f"Cluster {name!r} is stopped, so it has no dashboard: start it "
                f'(PUT /compute/clusters/{name}/state {{"state": "running"}}) and reload.'
            )
        return local_dashboard_port(name, running)

    def dashboard_path(self) -> tuple[str, str]:
        """(this route's base ending in `/dashboard/`, the checked path on the dashboard), both as
        the client sent them (undecoded)."""
        from . import API_PREFIX

        clusters = url_path_join(self.base_url, API_PREFIX, "compute/clusters/")
        path = self.request.path
        if not path.startswith(clusters):
            raise NotFound("No such dashboard path.")
        _, _, rest = path[len(clusters) :].partition("/")  # past the cluster's name
        if not rest.startswith("dashboard/"):
            raise NotFound("No such dashboard path.")
        raw = rest[len("dashboard/") :]
        return path[: len(path) - len(raw)], checked_dashboard_path(raw)


class DashboardHandler(DashboardRoute):
    """The dashboard's pages and files (see the module docstring)."""

    @route(
        "A running cluster's Dask dashboard (pages, scripts, styles), relayed from 127.0.0.1 "
        "with its status and Content-Type; 'status' is the main page",
        raw_response="*/*",
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def get(self, name: str, path: str) -> None:
        await self._relay(name)

    @route(
        "The headers of a dashboard answer (as GET, without the body)",
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def head(self, name: str, path: str) -> None:
        await self._relay(name)

    async def _relay(self, name: str) -> None:
        port = await self.dashboard_port(name)
        base, path = self.dashboard_path()
        url = dashboard_url("http", port, path, self.request.query)
        headers = {k: v for k in _FORWARDED_REQUEST if (v := self.request.headers.get(k)) is not None}
        answer = httputil.HTTPHeaders()

        def on_header(line: str) -> None:
            if line.startswith("HTTP/"):
                start = httputil.parse_response_start_line(line.strip())
                self.set_status(start.code, start.reason or None)
                answer.clear()
            elif line.strip():
                answer.parse_line(line)
            else:  # the blank line: all of them are in
                self._pass_headers(answer, base, port)

        def on_chunk(chunk: bytes) -> Awaitable[None]:
            self.write(chunk)
            return self.flush()

        request = HTTPRequest(
            url,
            method=self.request.method or "GET",
            headers=headers,
            follow_redirects=False,
            decompress_response=False,
            connect_timeout=_CONNECT_TIMEOUT,
            request_timeout=_REQUEST_TIMEOUT,
            header_callback=on_header,
            streaming_callback=on_chunk,
        )
        try:
            await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as err:
            if self._headers_written:
                # Part of the answer is out: end the connection so a cut body cannot look whole.
                self.request.connection.close()  # type: ignore[attr-defined]
                return
            raise Unavailable(
                f"The dashboard of cluster {name!r} did not answer ({type(err).__name__}); "
                "the cluster may be stopping."
            ) from None
        self.finish(set_content_type=answer.get("Content-Type", "application/octet-stream"))

    def _pass_headers(self, answer: httputil.HTTPHeaders, base: str, port: int) -> None:
        """Copy the headers of the dashboard's answer that the browser gets (before any chunk is
        written: the first flush sends them)."""
        for name in _FORWARDED_ANSWER:
            for value in answer.get_list(name):
                self.add_header(name, value)
        length = answer.get("Content-Length")
        if length is not None and self.get_status() not in (204, 304) and self.get_status() >= 200:
            self.set_header("Content-Length", length)
        location = answer.get("Location")
        if location is not None:
            target = rewritten_location(location, base, port)
            if target is not None:
                self.set_header("Location", target)
        self.set_header("Content-Type", answer.get("Content-Type", "application/octet-stream"))


class DashboardSocketHandler(WebSocketHandler, DashboardRoute):
    """bokeh's websocket of a dashboard page (see the module docstring)."""

    #: A websocket: OpenAPI describes no such operation (bokeh's protocol is its own).
    in_openapi = False

    def initialize(self) -> None:
        self.upstream: WebSocketClientConnection | None = None
        self._relaying: asyncio.Task[None] | None = None

    @route(
        "bokeh's websocket of a dashboard page, relayed to the cluster's dashboard both ways",
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def get(self, name: str, page: str) -> None:
        port = await self.dashboard_port(name)
        _, path = self.dashboard_path()
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise InvalidParameter("This is the dashboard's websocket: connect with 'Upgrade: websocket'.")
        offered = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        request = HTTPRequest(
            dashboard_url("ws", port, path, self.request.query),
            connect_timeout=_CONNECT_TIMEOUT,
            request_timeout=_CONNECT_TIMEOUT,
        )
        try:
            self.upstream = await websocket_connect(request, subprotocols=[p for p in offered if p] or None)
        except (OSError, HTTPClientError, WebSocketError) as err:
            raise Unavailable(
                f"The dashboard of cluster {name!r} did not open its websocket ({type(err).__name__})."
            ) from None
        try:
            await super().get(name, page)
        finally:
            self._close_upstream()

    def check_origin(self, origin: str = "") -> bool:
        return JupyterHandler.check_origin(self, origin)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        chosen = self.upstream.selected_subprotocol if self.upstream is not None else None
        return chosen if chosen in subprotocols else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._relaying = asyncio.ensure_future(self._relay_from_dashboard())

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is None:
            return
        try:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))
        except WebSocketClosedError:
            self.close()

    def on_close(self) -> None:
        self._close_upstream()

    async def _relay_from_dashboard(self) -> None:
        upstream = self.upstream
        if upstream is None:
            return
        while (message := await upstream.read_message()) is not None:
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except WebSocketClosedError:
                break
        code = upstream.close_code
        if code is None or code in _UNSENDABLE_CLOSE_CODES:
            self.close()
        else:
            self.close(code, upstream.close_reason)

    def _close_upstream(self) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.close()
