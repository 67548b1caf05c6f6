"""The model registry over real HTTP (issue 8): models and versions counting up, registered from a
run's artifact and from a file under the server's root dir, aliases set, moved, read and removed,
clear 400s for bad bodies and paths outside the root, and 409 when an endpoint serves what a
delete would remove. Endpoints themselves (replicas, keys) are in `test_endpoints_api.py`."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from jupyter_server.auth import Authorizer

from jupyter_mlws.entities import Deployment, Endpoint

from .api_helpers import Api, error_of

REGISTRY_SCHEMA = "https://events.jupyter.org/jupyter_mlws/registry/v1"


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        # Endpoint records only: the replicas are test_endpoints_api.py's business.
        "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws"), "serve_endpoints": False},
    }


@pytest.fixture(scope="module")
def skops_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small fitted scikit-learn model in skops format."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.models.flavors import save_sklearn

    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.5, 0.2], [0.1, 0.9]], [0, 1, 1, 0])
    return save_sklearn(model, tmp_path_factory.mktemp("model") / "model.skops").read_bytes()


@pytest.fixture
def model_file(jp_root_dir: Path, skops_bytes: bytes) -> str:
    """A model file under the server's root dir; its path as the browser would name it."""
    folder = jp_root_dir / "models" / "churn"
    folder.mkdir(parents=True)
    (folder / "model.skops").write_bytes(skops_bytes)
    return "models/churn/model.skops"


@pytest.fixture
def run_with_model(services, skops_bytes: bytes, tmp_path: Path) -> str:
    """A run that logged the same model as its artifact `model/model.skops`."""
    store = services.store
    experiment = store.get_or_create_experiment("churn-training")
    run_id = store.create_run(experiment.experiment_id, name="fit").info.run_id
    services.artifacts.put_bytes(run_id, skops_bytes, "model/model.skops")
    return run_id


async def test_register_from_file_and_run_counts_versions_up(
    api: Api, services, model_file: str, run_with_model: str
) -> None:
    assert (await api.json("GET", "/models"))["models"] == []
    created = await api.json(
        "POST", "/models", {"name": "churn", "description": "who leaves", "tags": {"team": "a"}}, expect=201
    )
    assert (
        created["name"] == "churn" and created["latest_version"] is None and created["tags"] == {"team": "a"}
    )
    again = await api.call("POST", "/models", {"name": "churn"})
    assert again.code == 409 and error_of(again)["error"] == "already_exists"

    first = await api.json(
        "POST", "/models/churn/versions", {"path": model_file, "tags": {"v": "1"}}, expect=201
    )
    assert first["version"] == 1 and first["flavor"] == "sklearn" and first["source_run_id"] is None
    assert [f["path"] for f in first["files"]] == ["model.skops"] and len(first["sha256"]) == 64
    assert first["trusted"] is False and first["size_bytes"] == first["files"][0]["size"] > 0

    body = {"run_id": run_with_model, "artifact_path": "model", "description": "from the run"}
    second = await api.json("POST", "/models/churn/versions", body, expect=201)
    assert second["version"] == 2 and second["source_run_id"] == run_with_model
    assert second["description"] == "from the run"
    assert second["files"][0]["sha256"] == first["files"][0]["sha256"], "same bytes, same blob"

    # A model registered for the first time by its first version is created on the way.
    other = await api.json("POST", "/models/fraud/versions", {"path": model_file}, expect=201)
    assert other["version"] == 1

    detail = await api.json("GET", "/models/churn")
    assert detail["latest_version"] == 2 and detail["served_by"] == []
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    listed = await api.json("GET", "/models")
    assert [(m["name"], m["latest_version"]) for m in listed["models"]] == [("churn", 2), ("fraud", 1)]
    versions = (await api.json("GET", "/models/churn/versions"))["versions"]
    assert [v["version"] for v in versions] == [2, 1] and versions[1] == first
    assert await api.json("GET", "/models/churn/versions/2") == second

    # A folder under the root: the same file, so the same manifest digest (content-addressed).
    folder = await api.json("POST", "/models/churn/versions", {"path": "models/churn"}, expect=201)
    assert folder["version"] == 3 and folder["sha256"] == first["sha256"]

    changed = await api.json("PATCH", "/models/churn", {"description": "churn v2", "tags": {"team": "b"}})
    assert changed["description"] == "churn v2" and changed["tags"] == {"team": "b"}
    trusted = await api.json("PATCH", "/models/churn/versions/1", {"trusted": True, "tags": {"ok": "yes"}})
    assert (
        trusted["trusted"] is True
        and trusted["tags"] == {"ok": "yes"}
        and trusted["sha256"] == first["sha256"]
    )

    await api.json("DELETE", "/models/churn/versions/1", expect=204)
    gone = await api.call("GET", "/models/churn/versions/1")
    assert gone.code == 404 and error_of(gone)["error"] == "not_found"
    third = await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
    assert third["version"] == 4, "versions count on from the highest"

    await api.json("DELETE", "/models/churn", expect=204)
    assert (await api.call("GET", "/models/churn")).code == 404
    assert (await api.call("GET", "/models/churn/versions")).code == 404
    assert [m["name"] for m in (await api.json("GET", "/models"))["models"]] == ["fraud"]


async def test_aliases_set_move_read_and_remove(api: Api, model_file: str) -> None:
    for _ in range(2):
        await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
    moved = await api.json("PUT", "/models/churn/aliases/production", {"version": 1})
    assert moved["version"] == 1 and moved["aliases"] == ["production"]
    await api.json("PUT", "/models/churn/aliases/staging", {"version": 2})
    assert (await api.json("GET", "/models/churn/aliases/production"))["version"] == 1

    moved = await api.json("PUT", "/models/churn/aliases/production", {"version": 2})
    assert moved["version"] == 2 and sorted(moved["aliases"]) == ["production", "staging"]
    detail = await api.json("GET", "/models/churn")
    assert detail["aliases"] == {"production": 2, "staging": 2}
    assert [v["aliases"] for v in detail["versions"]] == [["production", "staging"], []]

    await api.json("DELETE", "/models/churn/aliases/staging", expect=204)
    missing = await api.call("GET", "/models/churn/aliases/staging")
    assert missing.code == 404 and error_of(missing)["error"] == "not_found"
    assert (await api.call("DELETE", "/models/churn/aliases/staging")).code == 404
    assert (await api.json("GET", "/models/churn"))["aliases"] == {"production": 2}

    bad = await api.call("PUT", "/models/churn/aliases/Prod", {"version": 1})
    assert bad.code == 400 and "alias 'Prod' is not valid" in error_of(bad)["message"]
    nowhere = await api.call("PUT", "/models/churn/aliases/canary", {"version": 9})
    assert nowhere.code == 404 and error_of(nowhere)["error"] == "not_found"
    wrong_type = await api.call("PUT", "/models/churn/aliases/canary", {"version": "2"})
    assert wrong_type.code == 400 and "version" in error_of(wrong_type)["message"]


def _outside_paths(root: Path, tmp_path: Path) -> dict[str, str]:
    """Paths that name files outside the server's root dir, one way or another."""
    secret = tmp_path / "outside" / "secret.skops"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    (root / "sneaky").mkdir()
    os.symlink(secret.parent, root / "sneaky" / "out")  # a folder link out of the root
    os.symlink(secret, root / "link.skops")  # a file link out of the root
    inside = root / "bundle"
    inside.mkdir()
    (inside / "model.skops").write_bytes(b"x")
    os.symlink(secret, inside / "extra.skops")  # a link inside a model folder, leading out
    (root / "empty-folder").mkdir()
    return {"secret": str(secret)}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Say where the model files are"),
        ({"run_id": "abc123"}, "Say where the model files are"),
        ({"path": "models/churn/model.skops", "run_id": "abc"}, "not both"),
        ({"path": "../outside/secret.skops"}, "is outside the server's root dir"),
        ({"path": "{secret}"}, "is outside the server's root dir"),
        ({"path": "/etc/passwd"}, "is outside the server's root dir"),
        ({"path": "sneaky/out/secret.skops"}, "is outside the server's root dir"),
        ({"path": "link.skops"}, "is outside the server's root dir"),
        ({"path": "empty-folder"}, "The folder 'empty-folder' holds no files"),
        ({"path": "bundle"}, "is a link that leaves the model folder"),
        ({"path": "no/such/file.skops"}, "does not exist under the server's root dir"),
        ({"path": ""}, "path is empty"),
        ({"path": "."}, "holds the workspace's own files"),
        ({"path": "ws/mlws.db"}, "holds the workspace's own files"),
        ({"path": "models/churn/model.skops", "flavor": "tensorflow"}, "tensorflow"),
        ({"path": "models/churn/model.skops", "trusted": "yes"}, "trusted"),
        ({"path": "models/churn/model.skops", "source": "s3://x"}, "source: Extra inputs are not permitted"),
    ],
)
async def test_bad_register_bodies_are_400_naming_the_problem(
    api: Api, jp_root_dir: Path, tmp_path: Path, model_file: str, body: dict, message: str
) -> None:
    where = _outside_paths(jp_root_dir, tmp_path)
    body = {k: (v.format(**where) if isinstance(v, str) else v) for k, v in body.items()}
    response = await api.call("POST", "/models/churn/versions", body)
    assert response.code == 400, response.body
    error = error_of(response)
    assert error["error"] == "invalid_parameter" and message in error["message"], error["message"]
    assert "not yours" not in error["message"]
    # the path as the user gave it, never where it is on the server's disk
    assert str(jp_root_dir) not in error["message"] and os.path.realpath(jp_root_dir) not in error["message"]
    assert (await api.json("GET", "/models"))["models"] == [], "nothing registered"


@pytest.mark.catalogue("P9")
async def test_bad_names_versions_and_bodies_are_clear_4xx(api: Api, model_file: str) -> None:
    cases = [
        ("POST", "/models", {"name": "bad name!"}, 400, "model name 'bad name!' is not valid"),
        ("POST", "/models", {"name": "x" * 129}, 400, "is not valid: 1-128"),
        ("POST", "/models", {"description": "no name"}, 400, "name: Field required"),
        ("POST", "/models", {"name": "ok", "tags": {"k": 1}}, 400, "tags.k"),
        (
            "POST",
            "/models/bad%20name/versions",
            {"path": model_file},
            400,
            "model name 'bad name' is not valid",
        ),
        ("GET", "/models/churn/versions/abc", None, 400, "Model version must be a whole number from 1"),
        ("GET", "/models/churn/versions/0", None, 400, "Model version must be a whole number from 1"),
        ("GET", "/models/nope", None, 404, "nope"),
        ("GET", "/models/nope/versions/1", None, 404, "nope"),
        ("PATCH", "/models/nope", {"description": "x"}, 404, "nope"),
        ("DELETE", "/models/nope", None, 404, "nope"),
        ("POST", "/models/churn/versions", {"run_id": "f" * 32, "artifact_path": "model"}, 404, "f" * 32),
    ]
    for method, path, body, status, message in cases:
        response = await api.call(method, path, body)
        assert response.code == status, (method, path, response.code, response.body)
        assert message in error_of(response)["message"], (path, error_of(response)["message"])
    await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
    empty = await api.call("PATCH", "/models/churn", {})
    assert empty.code == 400 and "names no field to change" in error_of(empty)["message"]
    not_json = await api.call("POST", "/models", raw=b"name=churn")
    assert not_json.code == 400 and "not valid JSON" in error_of(not_json)["message"]


@pytest.mark.catalogue("S6")
async def test_deleting_what_an_endpoint_serves_is_409_naming_it(api: Api, services, model_file: str) -> None:
    for _ in range(2):
        v = await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
    served = Deployment(name="blue", model="churn@production", version=2, traffic=100, sha256=v["sha256"])
    services.store.create_endpoint(Endpoint(name="churn-api", deployments=(served,)))

    response = await api.call("DELETE", "/models/churn/versions/2")
    assert response.code == 409 and error_of(response)["error"] == "conflict"
    assert "served by endpoint churn-api" in error_of(response)["message"]
    response = await api.call("DELETE", "/models/churn")
    assert response.code == 409 and "churn-api" in error_of(response)["message"]
    assert (await api.json("GET", "/models/churn"))["served_by"] == ["churn-api"]

    await api.json("DELETE", "/models/churn/versions/1", expect=204)  # not served: goes
    # This server runs no endpoints (serve_endpoints off) and no other manager is alive.
    refused = await api.call("POST", "/endpoints", {"name": "other-api", "model": "churn:2"})
    assert refused.code == 503 and "jupyter mlws endpoints serve" in error_of(refused)["message"]
    assert [e.name for e in services.store.list_endpoints()] == ["churn-api"], "nothing stored"
    services.store.delete_endpoint("churn-api")
    await api.json("DELETE", "/models/churn", expect=204)


async def test_changes_reach_the_events_websocket(api: Api, jp_ws_fetch, model_file: str) -> None:
    ws = await jp_ws_fetch("api", "events", "subscribe")
    try:
        await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
        await api.json("PUT", "/models/churn/aliases/production", {"version": 1})
        seen = []
        while len(seen) < 2:
            message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=10))
            if message.get("schema_id") == REGISTRY_SCHEMA:
                seen.append(message)
        assert [m["action"] for m in seen] == ["model_changed", "model_changed"]
        assert {m["name"] for m in seen} == {"churn"} and set(seen[0]) >= {"action", "name"}
    finally:
        ws.close()


async def test_concurrent_registers_get_distinct_versions(api: Api, model_file: str) -> None:
    answers = await asyncio.gather(
        *(api.call("POST", "/models/churn/versions", {"path": model_file}) for _ in range(6))
    )
    assert [a.code for a in answers] == [201] * 6
    assert sorted(json.loads(a.body)["version"] for a in answers) == [1, 2, 3, 4, 5, 6]


@pytest.mark.catalogue("P4")
async def test_run_artifact_paths_stay_inside_the_run(api: Api, run_with_model: str) -> None:
    for artifact_path, status, message in (
        ("../../etc", 400, "'..' segment"),
        ("/etc/passwd", 400, ""),
        ("model/../../x", 400, "'..' segment"),
        ("nothing-here", 404, "has no artifact 'nothing-here'"),
    ):
        body = {"run_id": run_with_model, "artifact_path": artifact_path}
        response = await api.call("POST", "/models/churn/versions", body)
        assert response.code == status, (artifact_path, response.body)
        assert message in error_of(response)["message"]


class NoTrustAuthorizer(Authorizer):
    """A shared server's authorizer: everything but trusting models (RELIABILITY S1)."""

    def is_authorized(self, handler: object, user: object, action: str, resource: str) -> bool:
        return resource != "mlws:models:trust"


@pytest.mark.catalogue("S1")
class TestTrustIsAPermissionOfItsOwn:
    @pytest.fixture
    def jp_server_config(self, jp_root_dir: Path) -> dict:
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_mlws": True},
                "allow_unauthenticated_access": False,
                "authorizer_class": NoTrustAuthorizer,
            },
            "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws"), "serve_endpoints": False},
        }

    async def test_a_user_who_may_register_may_not_trust(self, api: Api, model_file: str) -> None:
        made = await api.json("POST", "/models/churn/versions", {"path": model_file}, expect=201)
        assert made["trusted"] is False
        for body in ({"path": model_file, "trusted": True},
                     {"path": model_file, "trusted_types": ["numpy.dtype"]}):
            refused = await api.call("POST", "/models/churn/versions", body)
            assert refused.code == 403, refused.body
            assert "mlws:models:trust" in json.loads(refused.body)["message"]
        refused = await api.call("PATCH", "/models/churn/versions/1", {"trusted": True})
        assert refused.code == 403 and "mlws:models:trust" in json.loads(refused.body)["message"]
        versions = await api.json("GET", "/models/churn/versions")
        assert [(v["version"], v["trusted"]) for v in versions["versions"]] == [(1, False)]
        # what needs no trust still works
        changed = await api.json("PATCH", "/models/churn/versions/1", {"description": "ok", "trusted": False})
        assert changed["description"] == "ok" and changed["trusted"] is False
