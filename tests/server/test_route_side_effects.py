"""RELIABILITY A2/A3, "no side effects": a refused request changes nothing — not one row of the
database, not one artifact file — on every route and method, and for the write routes a user
makes most (experiments, runs, metric batches, heartbeats, artifacts, models, the MLflow API)
with a body that passes validation: the same request with the server's token succeeds and does
change the workspace (checked at the end), so a refusal is what stopped it, not the body.

The workspace is seeded first (an experiment, a running run with a param, a tag, a point and an
artifact, a model) and every capture group of a route is filled with a seeded value by its name
(`experiment_id`, `run_id`, `name`, `path`, ...), so a request that slipped past the check would
find something to change.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.entities import ArtifactRecord

from .routes import _GROUP, Route, call_route, mlws_routes
from .test_routes_auth import DenyAndRecordAuthorizer

T0 = 1_700_000_000_000
#: Tables that move without a request (heartbeats of the services themselves).
MOVING = {"job_dispatchers"}


def _seed(services: Any) -> dict[str, str]:
    store = services.store
    exp = store.create_experiment("seeded")
    empty = store.create_experiment("empty")
    run = store.create_run(exp.experiment_id, name="seeded-run", source_kind="mlflow")
    run_id = run.info.run_id
    store.log_batch(run_id, metrics=[("loss", 0.5, 0, T0)], params={"lr": "0.1"}, tags={"team": "a"})
    info = services.artifacts.put_bytes(run_id, b"seeded", "seed.txt")
    store.record_artifact(run_id, ArtifactRecord(info.path, info.size, info.sha256))
    store.create_registered_model("seed", description="seeded")
    return {
        "experiment_id": str(exp.experiment_id),
        "empty_experiment": str(empty.experiment_id),
        "run_id": run_id,
        "name": "seed",
        "path": "seed.txt",
        "version": "1",
        "alias": "prod",
        "key_name": "primary",
        "batch_id": "b1",
        "job_id": "0" * 32,
        "kernel_id": "0" * 32,
        "sha256": "0" * 64,
        "page": "status",
        "action": "create",
        "upload_id": "u1",
        "part": "1",
    }


def _valid_writes(seed: dict[str, str]) -> list[tuple[str, str, Any]]:
    """(method, path under the base URL, body) of requests that pass validation, in an order in
    which each succeeds when sent with the token (deletes last)."""
    eid, rid = seed["experiment_id"], seed["run_id"]
    api, mlflow = "mlws/api/v1", "mlws/mlflow/api/2.0/mlflow"
    batch = {
        "columns": {"key": ["acc"], "value": [0.9], "step": [1], "timestamp": [T0 + 1]},
        "params": {"depth": "3"},
        "tags": {"stage": "b"},
    }
    return [
        ("POST", f"{api}/experiments", {"name": "made"}),
        ("PATCH", f"{api}/experiments/{eid}", {"name": "renamed"}),
        ("POST", f"{api}/runs", {"experiment_id": int(eid), "run_id": "1" * 32, "name": "made-run"}),
        ("PATCH", f"{api}/runs/{rid}", {"name": "renamed-run"}),
        ("PUT", f"{api}/runs/{rid}/batches/b1", batch),
        ("PUT", f"{api}/runs/{rid}/heartbeat", {}),
        ("PUT", f"{api}/runs/{rid}/artifacts/made.txt", "new file"),
        ("PATCH", f"{api}/models/seed", {"description": "changed"}),
        ("POST", f"{mlflow}/experiments/create", {"name": "made-by-mlflow"}),
        (
            "POST",
            f"{mlflow}/runs/log-metric",
            {"run_id": rid, "key": "k", "value": 1.0, "timestamp": T0, "step": 0},
        ),
        ("POST", f"{mlflow}/runs/set-tag", {"run_id": rid, "key": "mlflow-tag", "value": "v"}),
        ("DELETE", f"{api}/runs/{rid}/artifacts/seed.txt", None),
        ("DELETE", f"{api}/models/seed", None),
        ("DELETE", f"{api}/experiments/{seed['empty_experiment']}", None),
        ("DELETE", f"{api}/runs/{rid}", None),
    ]


def _snapshot(services: Any) -> dict[str, Any]:
    """Every row of every table (but the services' own heartbeats) and every artifact file."""
    url = services.location.store_url
    assert url.startswith("sqlite"), url
    with sqlite3.connect(f"file:{url.split(':///', 1)[1]}?mode=ro", uri=True) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables if t not in MOVING}
    artifacts = services.location.artifact_url
    root = Path(artifacts.split("://", 1)[1] if "://" in artifacts else artifacts)
    files = sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())
    return {"rows": rows, "files": files}


def _path(route: Route, seed: dict[str, str]) -> str:
    import re

    def fill(match: re.Match[str]) -> str:
        name = re.match(r"\(\?P<(\w+)>", match.group(0))
        return seed.get(name.group(1), "x") if name else "2.0"

    return _GROUP.sub(fill, route.pattern).rstrip("$").replace("\\", "")


def _differs(before: dict[str, Any], after: dict[str, Any]) -> str:
    changed = [t for t in before["rows"] if before["rows"][t] != after["rows"].get(t)]
    if before["files"] != after["files"]:
        changed.append("artifact files")
    return ", ".join(changed)


async def _walk_refused(
    app: Any, client: Any, headers: dict[str, str], refused: tuple[int, ...]
) -> dict[str, str]:
    services = app.web_app.settings["mlws_services"]
    seed = _seed(services)
    before = _snapshot(services)
    problems = []
    for route in mlws_routes(app.web_app):
        for method in route.methods:
            response = await call_route(client, route, method, headers, path=_path(route, seed))
            if response.code not in refused:
                problems.append(f"{method.upper()} {route.pattern}: {response.code}")
            if changed := _differs(before, _snapshot(services)):
                problems.append(f"{method.upper()} {route.pattern} changed {changed}")
    base = app.base_url.rstrip("/") + "/"
    for method, path, body in _valid_writes(seed):
        response = await _send(client, method, base + path, headers, body)
        if response.code not in refused:
            problems.append(f"{method} {path} with a valid body: {response.code}")
        if changed := _differs(before, _snapshot(services)):
            problems.append(f"{method} {path} with a valid body changed {changed}")
    assert not problems, "\n".join(problems)
    return seed


async def _send(client: Any, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    data = None if body is None else (body.encode() if isinstance(body, str) else json.dumps(body))
    content = "application/octet-stream" if isinstance(body, str) else "application/json"
    return await client.fetch(
        url,
        method=method,
        body=data,
        headers={"Content-Type": content, **headers},
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
    )


async def _valid_writes_succeed_with_the_token(
    app: Any, client: Any, auth: dict[str, str], seed: dict[str, str]
) -> None:
    """The control: the same bodies, sent with the token, are taken and change the workspace."""
    services = app.web_app.settings["mlws_services"]
    base = app.base_url.rstrip("/") + "/"
    problems = []
    for method, path, body in _valid_writes(seed):
        before = _snapshot(services)
        response = await _send(client, method, base + path, auth, body)
        if not 200 <= response.code < 300:
            problems.append(f"{method} {path}: {response.code} {response.body[:300]!r}")
        elif not _differs(before, _snapshot(services)):
            problems.append(f"{method} {path}: answered {response.code} but changed nothing")
    assert not problems, "\n".join(problems)


@pytest.mark.catalogue("A2")
async def test_anonymous_requests_change_nothing_on_any_route(
    jp_serverapp, http_server_client, jp_auth_header
) -> None:
    seed = await _walk_refused(jp_serverapp, http_server_client, {"Authorization": ""}, (403,))
    await _valid_writes_succeed_with_the_token(jp_serverapp, http_server_client, jp_auth_header, seed)


class TestRefusedByTheAuthorizer:
    @pytest.fixture
    def jp_server_config(self) -> dict:
        DenyAndRecordAuthorizer.calls = []
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_mlws": True},
                "authorizer_class": DenyAndRecordAuthorizer,
            }
        }

    @pytest.mark.catalogue("A3")
    async def test_requests_the_authorizer_refuses_change_nothing(
        self, jp_serverapp, http_server_client, jp_auth_header
    ) -> None:
        await _walk_refused(jp_serverapp, http_server_client, jp_auth_header, (403,))


@pytest.mark.catalogue("A4")
async def test_cross_site_writes_with_the_session_cookie_change_nothing_on_any_route(
    jp_serverapp, http_server_client, jp_auth_header
) -> None:
    """A4 on every write route: what a page on another site can make the browser send — the user's
    session cookie but no XSRF token, a foreign Origin or none, the body as text/plain or as a
    form — is refused (403) and changes nothing; the valid bodies included."""
    base = jp_serverapp.base_url.rstrip("/") + "/"
    token = jp_serverapp.identity_provider.token
    login = await http_server_client.fetch(f"{base}mlws/api/v1/info?token={token}", raise_error=False)
    assert login.code == 200
    session = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert session.startswith("username-"), session
    services = jp_serverapp.web_app.settings["mlws_services"]
    seed = _seed(services)
    before = _snapshot(services)
    requests: list[tuple[str, str, Any]] = [
        (method.upper(), _path(route, seed).lstrip("/")[len(base) - 1 :], {})
        for route in mlws_routes(jp_serverapp.web_app)
        for method in route.methods
        if method in ("post", "put", "patch", "delete")
    ]
    requests += _valid_writes(seed)
    problems = []
    for origin in ({"Origin": "https://evil.example"}, {}):
        for content_type, encode in (
            ("text/plain", lambda b: json.dumps(b) if not isinstance(b, str) else b),
            ("application/x-www-form-urlencoded", lambda b: "a=" + json.dumps(b)),
        ):
            headers = {"Cookie": session, "Authorization": "", "Content-Type": content_type, **origin}
            for method, path, body in requests:
                response = await http_server_client.fetch(
                    base + path,
                    method=method,
                    body=None if method == "DELETE" else encode(body),
                    headers=headers,
                    raise_error=False,
                    follow_redirects=False,
                    allow_nonstandard_methods=True,
                )
                if response.code != 403:
                    problems.append(
                        f"{method} {path} ({content_type}, {origin or 'no Origin'}): {response.code}"
                    )
                if changed := _differs(before, _snapshot(services)):
                    problems.append(f"{method} {path} ({content_type}) changed {changed}")
    assert not problems, "\n".join(problems[:40])
    assert len(requests) > 60
