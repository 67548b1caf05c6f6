"""A cluster's Dask dashboard through the Jupyter server (issue 15, item 4).

A real LocalCluster started through the REST API: its status page, bokeh's scripts and its
websocket load through `/mlws/api/v1/compute/clusters/{name}/dashboard/...` with the server's
token, never without it, and paths that try to leave the dashboard reach nothing else. A small
tornado app stands in for a dashboard where the test must see what arrives there (headers, the
query, redirects, a body held back half-way, a socket's subprotocol).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketHandler, websocket_connect

from .api_helpers import Api, error_of


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        # no node watching: the stand-in clusters below have no scheduler to ask
        "MLWorkspaceApp": {
            "workspace": str(jp_root_dir / "ws"),
            "cluster_interval": 0,
            "compute_interval": 0,
        },
    }


@dataclass
class Site:
    """A tornado app on 127.0.0.1 that records every request it is sent."""

    port: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    sockets: list[tuple[str | None, dict[str, str]]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)


class _Page(RequestHandler):
    def initialize(self, site: Site) -> None:
        self.site = site

    async def get(self, path: str) -> None:
        self.site.requests.append((self.request.uri or "", dict(self.request.headers)))
        redirects = {
            "": "/status",
            "go-abs": f"http://127.0.0.1:{self.site.port}/x?y=1",
            "go-away": "http://example.org/",
            "go-rel": "info/main/workers.html",
        }
        if path in redirects:
            self.redirect(redirects[path])
            return
        if path == "held":  # half a body, then the rest only once the test has seen the first half
            self.write(b"a" * 1000)
            await self.flush()
            await asyncio.wait_for(self.site.gate.wait(), 20)
            self.write(b"b" * 1000)
            return
        self.set_header("Content-Type", "application/x-dashboard")
        self.set_header("Set-Cookie", "dashboard=1")
        self.set_header("X-Internal", "not for the browser")
        self.set_header("Cache-Control", "max-age=5")
        self.write(b"page:" + path.encode())


class _Socket(WebSocketHandler):
    def initialize(self, site: Site) -> None:
        self.site = site

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[0] if subprotocols else None

    def open(self, *args: Any) -> None:
        self.site.sockets.append((self.selected_subprotocol, dict(self.request.headers)))

    def on_message(self, message: str | bytes) -> None:
        if message == "bye":
            self.close(4001, "asked to")
        elif isinstance(message, bytes):
            self.write_message(message[::-1], binary=True)
        else:
            self.write_message("echo:" + message)


def _serve(loop: Any, site: Site) -> HTTPServer:
    async def start() -> HTTPServer:
        sock, site.port = bind_unused_port()
        server = HTTPServer(
            Application([(r"/(.*)/ws", _Socket, {"site": site}), (r"/(.*)", _Page, {"site": site})])
        )
        server.add_socket(sock)
        return server

    return loop.run_until_complete(start())  # type: ignore[no-any-return]


@pytest.fixture
def site(jp_asyncio_loop: Any) -> Iterator[Site]:
    """The stand-in dashboard."""
    found = Site()
    server = _serve(jp_asyncio_loop, found)
    yield found
    server.stop()


@pytest.fixture
def elsewhere(jp_asyncio_loop: Any) -> Iterator[Site]:
    """Another service on this machine, which no dashboard path may reach."""
    found = Site()
    server = _serve(jp_asyncio_loop, found)
    yield found
    server.stop()


async def _stand_in(api: Api, jp_serverapp: Any, name: str, dashboard: str | None) -> None:
    """A stored cluster that the server believes runs with `dashboard` as its link."""
    from jupyter_mlws.compute.dask_clusters import RunningCluster

    await api.json("POST", "/compute/clusters", {"name": name, "max_nodes": 1}, expect=201)
    store = jp_serverapp.web_app.settings["mlws_services"].store
    service = jp_serverapp.web_app.settings["mlws_clusters"]
    service.running[name] = RunningCluster(store.get_cluster(name), "tcp://127.0.0.1:9", None, dashboard)


def _url(base_url: str, name: str, path: str) -> str:
    return f"{base_url}mlws/api/v1/compute/clusters/{name}/dashboard/{path}"


async def _get(client: Any, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
    return await client.fetch(url, headers=headers, raise_error=False, follow_redirects=False, **kwargs)


def _socket_request(port: int, url: str, headers: dict[str, str]) -> HTTPRequest:
    return HTTPRequest(f"ws://127.0.0.1:{port}{url}", headers=headers, connect_timeout=30)


# ----- a real Dask dashboard -------------------------------------------------------------------
@pytest.mark.catalogue("A6")
async def test_the_status_page_its_scripts_and_its_websocket_load_through_the_server(
    api: Api,
    http_server_client: Any,
    jp_base_url: str,
    jp_http_port: int,
    jp_auth_header: dict,
    elsewhere: Site,
) -> None:
    await api.json("POST", "/compute/clusters", {"name": "dash", "max_nodes": 1}, expect=201)
    started = await api.json("PUT", "/compute/clusters/dash/state", {"state": "running"})
    assert started["dashboard"], "bokeh is installed: a LocalCluster has its dashboard"
    own = re.match(r"http://127\.0\.0\.1:(\d+)/", started["dashboard"])
    assert own, started["dashboard"]
    client = http_server_client
    anonymous = {"Authorization": ""}

    page = await _get(client, _url(jp_base_url, "dash", "status"), jp_auth_header)
    assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" not in page.headers["Content-Security-Policy"]
    html = page.body.decode()
    scripts = re.findall(r'src="(static/js/bokeh[^"]*)"', html)
    styles = re.findall(r'href="(statics/css/[^"]*)"', html)
    assert scripts and styles, "the page names its scripts and styles by relative links"
    for path, kind in ((scripts[0], "javascript"), (styles[0], "text/css")):
        asset = await _get(client, _url(jp_base_url, "dash", path), jp_auth_header)
        assert asset.code == 200 and kind in asset.headers["Content-Type"], (path, asset.code)
        direct = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{own.group(1)}/{path}")
        assert asset.body == direct.body and len(asset.body) > 1000
    head = await _get(client, _url(jp_base_url, "dash", scripts[0]), jp_auth_header, method="HEAD")
    assert head.code == 200 and int(head.headers["Content-Length"]) > 1000 and not head.body
    # Dask's root redirects to /status: under this route, not to the dashboard's own port
    root = await _get(client, _url(jp_base_url, "dash", ""), jp_auth_header)
    assert root.code in (301, 302) and root.headers["Location"] == _url(jp_base_url, "dash", "status")

    # bokeh's websocket: its subprotocol and session token pass, and the session answers
    token = re.search(r'"token":"([^"]+)"', html)
    assert token, "bokeh's page carries its session token"
    socket = await websocket_connect(
        _socket_request(jp_http_port, _url(jp_base_url, "dash", "status/ws"), jp_auth_header),
        subprotocols=["bokeh", token.group(1)],
    )
    try:
        assert socket.selected_subprotocol == "bokeh"
        first = await asyncio.wait_for(socket.read_message(), 30)
        assert first is not None and json.loads(first)["msgtype"] == "ACK"
    finally:
        socket.close()

    # never without the server's token
    refused = await _get(client, _url(jp_base_url, "dash", "status"), anonymous)
    assert refused.code == 403 and error_of(refused)["error"] == "forbidden"
    with pytest.raises(HTTPClientError) as raised:
        await websocket_connect(
            _socket_request(jp_http_port, _url(jp_base_url, "dash", "status/ws"), anonymous),
            subprotocols=["bokeh", token.group(1)],
        )
    assert raised.value.code == 403

    # paths that try to leave the dashboard: refused, or the dashboard's own 404
    other = f"127.0.0.1:{elsewhere.port}"
    for path in (
        "../state",
        "../../../../api/status",
        "%2e%2e/state",
        "static/..%2F..%2Fstate",
        "status\\..\\..\\state",
        f"//{other}/x",
        f"http://{other}/x",
    ):
        answer = await _get(client, _url(jp_base_url, "dash", path), jp_auth_header)
        assert answer.code == 400, (path, answer.code)
        assert "plain path" in error_of(answer)["message"]
    for path in (f"http:%2F%2F{other}%2Fx", f"@{other}/x", f"{other}/x", f"x?url=http://{other}/"):
        answer = await _get(client, _url(jp_base_url, "dash", path), jp_auth_header)
        assert answer.code == 404, (path, answer.code)  # the dashboard's answer: no such page
    answer = await _get(client, _url(jp_base_url, "dash", "status"), {**jp_auth_header, "Host": other})
    assert answer.code == 200  # a Host header names nothing the server relays to
    assert elsewhere.requests == [] and elsewhere.sockets == []

    # a stopped cluster has no dashboard: a clear JSON error
    await api.json("PUT", "/compute/clusters/dash/state", {"state": "stopped"})
    stopped = await _get(client, _url(jp_base_url, "dash", "status"), jp_auth_header)
    assert stopped.code == 409 and "is stopped" in error_of(stopped)["message"]
    with pytest.raises(HTTPClientError) as raised:
        await websocket_connect(
            _socket_request(jp_http_port, _url(jp_base_url, "dash", "status/ws"), jp_auth_header)
        )
    assert raised.value.code == 409
    await api.call("DELETE", "/compute/clusters/dash")


# ----- what reaches a dashboard, and what comes back -------------------------------------------
async def test_nothing_of_the_jupyter_session_reaches_the_dashboard(
    api: Api, jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict, site: Site
) -> None:
    await _stand_in(api, jp_serverapp, "fake", f"http://127.0.0.1:{site.port}/status")
    token = jp_auth_header["Authorization"].split()[-1]
    sent = {
        **jp_auth_header,
        "Cookie": "username-127-0-0-1=secret; _xsrf=x",
        "X-XSRFToken": "x",
        "Referer": f"http://127.0.0.1/lab?token={token}",
        "Origin": "http://127.0.0.1",
        "Accept-Language": "de",
        "If-None-Match": '"v1"',
    }
    url = _url(jp_base_url, "fake", f"individual-cpu?a=1&token={token}&b=%20")
    answer = await _get(http_server_client, url, sent)
    assert answer.code == 200 and answer.body == b"page:individual-cpu"
    assert answer.headers["Content-Type"] == "application/x-dashboard"
    assert answer.headers["Cache-Control"] == "max-age=5"
    # Jupyter's own login cookie (the token came in the URL) is the only one: not the dashboard's
    assert all(c.startswith("username-") for c in answer.headers.get_list("Set-Cookie"))
    assert "X-Internal" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    ((uri, seen),) = site.requests
    assert uri == "/individual-cpu?a=1&b=%20"
    assert seen["Accept-Language"] == "de" and seen["If-None-Match"] == '"v1"'
    for header in ("Cookie", "Authorization", "X-Xsrftoken", "Referer", "Origin"):
        assert header not in seen, header
    assert token not in json.dumps(seen)


async def test_redirects_stay_under_the_route(
    api: Api, jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict, site: Site
) -> None:
    await _stand_in(api, jp_serverapp, "fake", f"http://127.0.0.1:{site.port}/status")
    base = _url(jp_base_url, "fake", "")
    for path, expected in (
        ("", base + "status"),
        ("go-abs", base + "x?y=1"),
        ("go-rel", "info/main/workers.html"),
        ("go-away", None),
    ):
        answer = await _get(http_server_client, base + path, jp_auth_header)
        assert answer.code == 302, (path, answer.code)
        assert answer.headers.get("Location") == expected, path


async def test_a_body_streams_through_as_it_comes(
    api: Api, jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict, site: Site
) -> None:
    await _stand_in(api, jp_serverapp, "fake", f"http://127.0.0.1:{site.port}/status")
    chunks: list[bytes] = []

    def arrived(chunk: bytes) -> None:
        chunks.append(chunk)
        site.gate.set()  # the dashboard sends the rest only now: a relay that buffered would time out

    answer = await _get(
        http_server_client,
        _url(jp_base_url, "fake", "held"),
        jp_auth_header,
        streaming_callback=arrived,
        request_timeout=30,
    )
    assert answer.code == 200
    assert b"".join(chunks) == b"a" * 1000 + b"b" * 1000


async def test_a_socket_relays_both_ways_with_its_subprotocol(
    api: Api, jp_serverapp: Any, jp_base_url: str, jp_http_port: int, jp_auth_header: dict, site: Site
) -> None:
    await _stand_in(api, jp_serverapp, "fake", f"http://127.0.0.1:{site.port}/status")
    socket = await websocket_connect(
        _socket_request(
            jp_http_port,
            _url(jp_base_url, "fake", "status/ws"),
            {**jp_auth_header, "Cookie": "username-127-0-0-1=secret"},
        ),
        subprotocols=["bokeh", "session-token"],
    )
    assert socket.selected_subprotocol == "bokeh"
    await socket.write_message("hello")
    assert await asyncio.wait_for(socket.read_message(), 10) == "echo:hello"
    await socket.write_message(b"\x00\x01\x02", binary=True)
    assert await asyncio.wait_for(socket.read_message(), 10) == b"\x02\x01\x00"
    await socket.write_message("bye")  # the dashboard closes: so does the browser's socket
    assert await asyncio.wait_for(socket.read_message(), 10) is None
    assert socket.close_code == 4001
    ((subprotocol, seen),) = site.sockets
    assert subprotocol == "bokeh"
    assert "Cookie" not in seen and "Authorization" not in seen and "Origin" not in seen


@pytest.mark.catalogue("A6")
async def test_a_login_cookie_opens_a_socket_from_the_same_origin_only(
    api: Api,
    jp_serverapp: Any,
    http_server_client: Any,
    jp_base_url: str,
    jp_http_port: int,
    jp_auth_header: dict,
    site: Site,
) -> None:
    """A browser sends its cookies with any page's websocket: another site's page must get nothing."""
    await _stand_in(api, jp_serverapp, "fake", f"http://127.0.0.1:{site.port}/status")
    token = jp_auth_header["Authorization"].split()[-1]
    login = await _get(http_server_client, _url(jp_base_url, "fake", f"status?token={token}"), {})
    assert login.code == 200
    cookie = {"Cookie": login.headers["Set-Cookie"].split(";", 1)[0]}
    url = _url(jp_base_url, "fake", "status/ws")
    with pytest.raises(HTTPClientError) as raised:
        await websocket_connect(
            _socket_request(jp_http_port, url, {**cookie, "Origin": "http://evil.example"})
        )
    assert raised.value.code in (403, 404)
    assert site.sockets == []
    same = {**cookie, "Origin": f"http://127.0.0.1:{jp_http_port}"}
    socket = await websocket_connect(_socket_request(jp_http_port, url, same))
    await socket.write_message("hello")
    assert await asyncio.wait_for(socket.read_message(), 10) == "echo:hello"
    socket.close()


# ----- clear errors ----------------------------------------------------------------------------
async def test_no_dashboard_or_one_elsewhere_is_a_clear_error(
    api: Api, jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict
) -> None:
    unknown = await _get(http_server_client, _url(jp_base_url, "nobody", "status"), jp_auth_header)
    assert unknown.code == 404 and error_of(unknown)["error"] == "not_found"
    await _stand_in(api, jp_serverapp, "bare", None)
    bare = await _get(http_server_client, _url(jp_base_url, "bare", "status"), jp_auth_header)
    assert bare.code == 404 and "without a Dask dashboard" in error_of(bare)["message"]
    await _stand_in(api, jp_serverapp, "remote", "http://192.0.2.7:8787/status")
    remote = await _get(http_server_client, _url(jp_base_url, "remote", "status"), jp_auth_header)
    assert remote.code == 409 and "not on this machine's 127.0.0.1" in error_of(remote)["message"]
    # the socket route answers plain HTTP with JSON too
    plain = await _get(http_server_client, _url(jp_base_url, "bare", "status/ws"), jp_auth_header)
    assert plain.code == 404 and error_of(plain)["error"] == "not_found"


async def test_a_dashboard_that_does_not_answer_is_a_503(
    api: Api, jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict
) -> None:
    sock, port = bind_unused_port()
    sock.close()  # nothing listens there now
    await _stand_in(api, jp_serverapp, "gone", f"http://127.0.0.1:{port}/status")
    answer = await _get(http_server_client, _url(jp_base_url, "gone", "status"), jp_auth_header)
    assert answer.code == 503 and "did not answer" in error_of(answer)["message"]
