"""Scoring endpoints over real HTTP (issue 8): deploy through the REST API (the server's endpoint
manager starts real replica processes on 127.0.0.1), score them with the key answered once, see
that no GET, log line or error carries key material, regenerate a key, refuse a scoring key on
the control plane (RELIABILITY A7), and delete (the replica processes are gone)."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .api_helpers import Api, error_of

EXAMPLE = {"a": [0.1, 0.9], "b": [0.8, 0.2]}


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws")},
    }


@pytest.fixture
def manager(jp_serverapp) -> Iterator[Any]:
    """The server's endpoint manager; replicas it left running are killed (by pid) at teardown."""
    found = jp_serverapp.web_app.settings["mlws_endpoint_manager"]
    yield found
    for name in list(found.running):
        for pid in found.replica_pids(name):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def model_file(jp_root_dir: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.models.flavors import save_sklearn

    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]], [0, 1, 1, 0])
    save_sklearn(model, jp_root_dir / "churn.skops")
    return "churn.skops"


def _score(url: str, key: str | None, body: Any) -> tuple[int, dict[str, Any]]:
    """One POST /score on a fresh connection (blocking: run it in a thread)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    try:
        conn.request("POST", parts.path, json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


async def score(url: str, key: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(_score, url, key, body or [{"a": 0.95, "b": 0.05}])


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.catalogue("A7", "S6")
async def test_deploy_score_rotate_and_delete_over_real_http(
    api: Api, manager: Any, model_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await api.json("POST", "/models/churn/versions", {"path": model_file, "example": EXAMPLE}, expect=201)
    await api.json("PUT", "/models/churn/aliases/production", {"version": 1})

    body = {"name": "churn-api", "model": "churn@production", "replicas": 2}
    response = await api.call("POST", "/endpoints", body)
    assert response.code == 201 and response.headers["Cache-Control"] == "no-store"
    created = json.loads(response.body)
    keys = created["keys"]
    assert created["state"] == "running" and created["replicas"] == 2
    assert created["host"] == "127.0.0.1" and created["url"] == f"http://127.0.0.1:{created['port']}"
    assert created["scoring_url"] == created["url"] + "/score"
    assert [(d["name"], d["model"], d["version"], d["traffic"]) for d in created["deployments"]] == [
        ("blue", "churn@production", 1, 100)
    ]
    assert len(keys["primary"]) >= 40 and keys["primary"] != keys["secondary"]
    url = created["scoring_url"]

    status, answer = await score(url, keys["primary"])
    assert status == 200 and answer["predictions"] == [1] and answer["version"] == 1
    assert (await score(url, keys["secondary"]))[0] == 200
    assert (await score(url, None))[0] == 401
    assert (await score(url, "not-a-key"))[0] == 401

    # The Try-it relay: the key in X-MLWS-Endpoint-Key, the endpoint's answer as it is.
    relay = "/endpoints/churn-api/score"
    relayed = await api.call(
        "POST", relay, [{"a": 0.95, "b": 0.05}], {"X-MLWS-Endpoint-Key": keys["primary"]}
    )
    assert relayed.code == 200 and json.loads(relayed.body)["predictions"] == [1]
    wrong = await api.call("POST", relay, [{"a": 0.95, "b": 0.05}], {"X-MLWS-Endpoint-Key": "nope"})
    assert wrong.code == 401 and error_of(wrong)["error"] == "unauthorized"
    column = await api.call("POST", relay, [{"zzz": 1.0}], {"X-MLWS-Endpoint-Key": keys["primary"]})
    assert column.code == 400 and "a" in error_of(column)["message"]

    # GET never shows key material: neither the keys nor their hashes.
    shown = [
        (await api.call("GET", "/endpoints")).body,
        (await api.call("GET", "/endpoints/churn-api")).body,
        (await api.call("PATCH", "/endpoints/churn-api", {"description": "churn scoring"})).body,
    ]
    from jupyter_mlws.serving.keys import hash_key

    secrets = [keys["primary"], keys["secondary"], hash_key(keys["primary"]), hash_key(keys["secondary"])]
    for text in shown:
        assert b"key_hashes" not in text and not any(s.encode() in text for s in secrets)
    listed = json.loads(shown[0])["endpoints"]
    assert [e["name"] for e in listed] == ["churn-api"] and "keys" not in listed[0]
    assert json.loads(shown[2])["description"] == "churn scoring"

    # A scoring key is not a Jupyter token: the control plane refuses it.
    for method, path in (
        ("GET", "/endpoints"),
        ("GET", "/models"),
        ("POST", "/endpoints/churn-api/keys/primary"),
    ):
        refused = await api.call(
            method, path, {} if method == "POST" else None, {"Authorization": f"Bearer {keys['primary']}"}
        )
        assert refused.code in (401, 403), (method, path, refused.code)
        assert keys["primary"].encode() not in refused.body

    # Serving models cannot be deleted from under the endpoint.
    conflict = await api.call("DELETE", "/models/churn/versions/1")
    assert conflict.code == 409 and "churn-api" in error_of(conflict)["message"]
    followed = await api.call("DELETE", "/models/churn/aliases/production")
    assert (
        followed.code == 409
        and "churn@production is followed by endpoint churn-api" in error_of(followed)["message"]
    )

    # Rotate the primary key: the old one stops working, the secondary keeps working.
    response = await api.call("POST", "/endpoints/churn-api/keys/primary")
    assert response.code == 200 and response.headers["Cache-Control"] == "no-store"
    rotated = json.loads(response.body)
    assert rotated["endpoint"] == "churn-api" and rotated["key_name"] == "primary"
    new_key = rotated["key"]
    assert new_key not in (keys["primary"], keys["secondary"])

    async def old_refused() -> bool:
        return (await score(url, keys["primary"]))[0] == 401

    await _until(old_refused, timeout=3)
    assert (await score(url, new_key))[0] == 200 and (await score(url, keys["secondary"]))[0] == 200
    stats = (await api.json("GET", "/endpoints/churn-api"))["stats"]
    assert set(stats) >= {"requests", "p50_ms", "p99_ms"}

    # Blue/green through PATCH: the server resolves each reference; down to one replica.
    first_pids = manager.replica_pids("churn-api")
    assert len(first_pids) == 2 and all(_alive(p) for p in first_pids)
    await api.json("POST", "/models/churn/versions", {"path": model_file, "example": EXAMPLE}, expect=201)
    blue_green = [
        {"name": "blue", "model": "churn@production", "traffic": 50},
        {"name": "green", "model": "churn:2", "traffic": 50, "sha256": "f" * 64},
    ]
    patched = await api.json("PATCH", "/endpoints/churn-api", {"replicas": 1, "deployments": blue_green})
    assert patched["state"] == "running" and patched["replicas"] == 1
    assert [(d["name"], d["version"], d["traffic"]) for d in patched["deployments"]] == [
        ("blue", 1, 50),
        ("green", 2, 50),
    ]
    assert patched["deployments"][1]["sha256"] != "f" * 64, "the server resolves the files, not the client"
    answers = [(await score(url, new_key))[1] for _ in range(20)]
    assert {(a["deployment"], a["version"]) for a in answers} == {("blue", 1), ("green", 2)}
    all_green = await api.json("PATCH", "/endpoints/churn-api", {"traffic": {"blue": 0, "green": 100}})
    assert [d["traffic"] for d in all_green["deployments"]] == [0, 100]

    async def only_green() -> bool:  # within ~1 s: the replicas re-read their config on SIGHUP
        return {(await score(url, new_key))[1]["deployment"] for _ in range(5)} == {"green"}

    await _until(only_green, timeout=5)
    uneven = [{**blue_green[0], "traffic": 60}, blue_green[1]]
    refused = await api.call("PATCH", "/endpoints/churn-api", {"deployments": uneven})
    assert refused.code == 400 and "add up to 100" in error_of(refused)["message"]

    # Delete: the replicas stop, the port closes.
    pids = manager.replica_pids("churn-api")
    assert len(pids) == 1 and all(_alive(p) for p in pids)
    await api.json("DELETE", "/endpoints/churn-api", expect=204)

    async def replicas_gone() -> bool:
        return not any(_alive(p) for p in [*first_pids, *pids])

    await _until(replicas_gone)
    assert (await api.call("GET", "/endpoints/churn-api")).code == 404
    with pytest.raises(OSError):
        await score(url, new_key)
    await api.json("DELETE", "/models/churn", expect=204)  # no longer served

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(s in logged for s in [*secrets, new_key]), "key material in the server log"


async def test_bad_deploys_and_key_names_are_clear_4xx(api: Api, manager: Any, model_file: str) -> None:
    await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
    cases = [
        ({"name": "Churn_API", "model": "churn"}, 400, "endpoint name 'Churn_API' is not valid"),
        ({"name": "api", "model": "churn@nowhere"}, 404, "nowhere"),
        ({"name": "api", "model": "other"}, 404, "other"),
        ({"name": "api", "model": "churn:x"}, 400, "the version after ':' must be a number"),
        ({"name": "api", "model": "churn", "replicas": 0}, 400, "replicas must be from 1 to 64"),
        ({"name": "api", "model": "churn", "replicas": "2"}, 400, "replicas"),
        ({"name": "api"}, 400, "model: Field required"),
        ({"name": "api", "model": "churn", "deployment": "<b>"}, 400, "deployment name '<b>' is not valid"),
        ({"name": "api", "model": "churn", "keys": {}}, 400, "keys: Extra inputs are not permitted"),
        # every score would have been a 500 (negative), or never timed out (huge)
        ({"name": "api", "model": "churn", "timeout_seconds": -1}, 400, "from 0.1 to 600"),
        ({"name": "api", "model": "churn", "timeout_seconds": 0}, 400, "from 0.1 to 600"),
        ({"name": "api", "model": "churn", "timeout_seconds": 1e12}, 400, "from 0.1 to 600"),
    ]
    for body, status, message in cases:
        response = await api.call("POST", "/endpoints", body)
        assert response.code == status, (body, response.code, response.body)
        assert message in error_of(response)["message"], (body, error_of(response)["message"])
    assert (await api.json("GET", "/endpoints"))["endpoints"] == []
    assert manager.running == {}, "no replica was started"
    for path, status, message in (
        ("/endpoints/nope/keys/primary", 404, "nope"),
        ("/endpoints/nope/keys/tertiary", 400, "Key name must be 'primary' or 'secondary'"),
    ):
        response = await api.call("POST", path, {})
        assert response.code == status and message in error_of(response)["message"]
    assert (await api.call("GET", "/endpoints/nope")).code == 404
    assert (await api.call("POST", "/endpoints/nope/score", [{"a": 1}])).code == 404
    assert (await api.call("DELETE", "/endpoints/nope")).code == 404
    empty = await api.call("PATCH", "/endpoints/nope", {})
    assert empty.code == 400 and "names no field to change" in error_of(empty)["message"]


async def test_logs_route_gives_the_replicas_lines(
    api: Api, manager: Any, jp_root_dir: Path, jp_fetch: Any
) -> None:
    """GET /endpoints/{name}/logs: what the replicas printed (Azure ML's service.get_logs())."""
    folder = jp_root_dir / "talky"
    folder.mkdir()
    (folder / "score.py").write_text(
        "def init():\n    print('init: talky is ready', flush=True)\n"
        "def run(raw_data):\n    print('run: got', len(raw_data), 'chars')\n    return {'ok': True}\n"
    )
    await api.json("POST", "/models/talky/versions", {"path": "talky", "trusted": True}, expect=201)
    created = await api.json("POST", "/endpoints", {"name": "talky", "model": "talky:1"}, expect=201)
    status, answer = await score(created["url"] + "/score", created["keys"]["primary"], {"data": [[1]]})
    assert status == 200 and answer == {"ok": True}

    async def logged() -> bool:
        text = (await api.json("GET", "/endpoints/talky/logs?lines=100"))["text"]
        return "run: got 15 chars" in text

    await _until(logged)
    body = await api.json("GET", "/endpoints/talky/logs?lines=100")
    assert body["endpoint"] == "talky" and body["lines"] == 100
    assert "init: talky is ready" in body["text"] and created["keys"]["primary"] not in body["text"]
    assert len((await api.json("GET", "/endpoints/talky/logs?lines=1"))["text"].splitlines()) == 1
    for bad in ("0", "x", "10001"):
        response = await api.call("GET", f"/endpoints/talky/logs?lines={bad}")
        assert response.code == 400 and "lines must be an integer from 1 to 10000" in error_of(response)["message"]
    assert (await api.call("GET", "/endpoints/nope/logs")).code == 404


def _rest(server: Any, method: str, path: str, body: Any = None) -> Any:
    """A JSON call to a real server subprocess (blocking)."""
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/mlws/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=180) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@pytest.mark.slow
def test_endpoints_stop_with_the_server_and_come_back_after_a_restart(tmp_path: Path) -> None:
    """app.py wiring: the manager stops first (replicas end with the server); the next server on
    the workspace brings the endpoint back on the same port, with the same keys."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.client.workspace import Workspace
    from jupyter_mlws.models.flavors import save_sklearn

    from .test_server_crash import start_server

    root, workspace = tmp_path / "root", tmp_path / "root" / "ws"
    root.mkdir()
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]], [0, 1, 1, 0])
    ws = Workspace(workspace)
    ws.models.register("churn", save_sklearn(model, root / "churn.skops"))
    ws.close()

    first = start_server(root, tmp_path / "state1", workspace)
    try:
        created = _rest(first, "POST", "/endpoints", {"name": "churn-api", "model": "churn:1"})
        url, key = created["scoring_url"], created["keys"]["primary"]
        assert _score(url, key, [{"a": 0.9, "b": 0.1}])[0] == 200
    finally:
        first.stop()
    assert first.process.returncode is not None
    with pytest.raises(OSError):
        _score(url, key, [{"a": 0.9, "b": 0.1}])  # the replicas stopped with the server

    second = start_server(root, tmp_path / "state2", workspace)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer = _score(url, key, [{"a": 0.9, "b": 0.1}])
                break
            except OSError:
                assert time.monotonic() < deadline, "the endpoint did not come back"
                time.sleep(0.2)
        assert status == 200 and answer["predictions"] == [1]
        shown = _rest(second, "GET", "/endpoints/churn-api")
        while shown["state"] != "running":  # answering first, then marked running on the next pass
            assert time.monotonic() < deadline, shown
            time.sleep(0.2)
            shown = _rest(second, "GET", "/endpoints/churn-api")
        assert shown["scoring_url"] == url
        _rest(second, "DELETE", "/endpoints/churn-api")
    finally:
        second.stop()


#: Put in a server's config folder: its clusters take 3 s to start (a slow start, as a cluster
#: with nodes to spawn has), so the server answers requests while its extension still starts.
_SLOW_CLUSTER_START = """
import asyncio
from jupyter_mlws.server import clusters as _clusters

_start = _clusters.ClusterService.start


async def _slow_start(self):
    await asyncio.sleep(3)
    await _start(self)


_clusters.ClusterService.start = _slow_start
"""


@pytest.mark.slow
def test_requests_during_a_slow_start_wait_for_clusters_jobs_and_endpoints(tmp_path: Path) -> None:
    """Jupyter answers requests before the extension has started its clusters, job dispatcher and
    endpoint manager: a deploy, a cluster list and a job list made then wait and succeed (they were
    503 "No endpoint manager runs this workspace" / "This server runs no clusters")."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.client.workspace import Workspace
    from jupyter_mlws.models.flavors import save_sklearn

    from .test_server_crash import start_server

    root, workspace = tmp_path / "root", tmp_path / "root" / "ws"
    root.mkdir()
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]], [0, 1, 1, 0])
    ws = Workspace(workspace)
    ws.models.register("churn", save_sklearn(model, root / "churn.skops"))
    ws.close()
    config = tmp_path / "state" / "config"
    config.mkdir(parents=True)
    (config / "jupyter_server_config.py").write_text(_SLOW_CLUSTER_START)

    server = start_server(root, tmp_path / "state", workspace)
    try:
        began = time.monotonic()
        created = _rest(server, "POST", "/endpoints", {"name": "churn-api", "model": "churn:1"})
        assert time.monotonic() - began > 1.0, "the server was not still starting: the test proves nothing"
        assert _score(created["scoring_url"], created["keys"]["primary"], [{"a": 0.9, "b": 0.1}])[0] == 200
        assert _rest(server, "GET", "/compute/clusters")["clusters"] == []
        assert _rest(server, "GET", "/jobs")["jobs"] == []
        _rest(server, "DELETE", "/endpoints/churn-api")
    finally:
        server.stop()
