"""Store contract: the model registry and endpoints (schema v6).

Models (names, descriptions, tags) run on every backend. Versions, aliases and endpoints
are written through the SQL stores here: over HTTP a version is registered from files by the
server, and an endpoint is deployed by it (tests/server/test_models_api.py and
test_endpoints_api.py cover those routes).
"""

from __future__ import annotations

import hashlib
import threading

import pytest

from jupyter_mlws.entities import Deployment, Endpoint, ModelFile
from jupyter_mlws.errors import AlreadyExists, InvalidParameter, NotFound

from .conftest import skip_on_rest


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _version(store, name: str = "churn", **extra):
    files = (ModelFile("model.skops", 10, _sha("m")), ModelFile("README.md", 3, _sha("r")))
    return store.create_model_version(
        name, flavor="sklearn", files=files, sha256=_sha("manifest" + str(extra)), size_bytes=13, **extra
    )


@pytest.fixture
def sql_store(sql_url: str):
    from jupyter_mlws.store.factory import open_store

    opened = open_store(sql_url)
    try:
        yield opened
    finally:
        opened.close()


def test_models_are_created_listed_changed_and_deleted(store) -> None:
    made = store.create_registered_model("churn", description="predicts churn", tags={"team": "a"})
    assert (made.name, made.description, made.tags, made.latest_version, made.aliases) == (
        "churn",
        "predicts churn",
        {"team": "a"},
        None,
        {},
    )
    store.create_registered_model("Alpha.v2")
    with pytest.raises(AlreadyExists):
        store.create_registered_model("churn")
    assert [m.name for m in store.list_registered_models()] == ["Alpha.v2", "churn"]
    changed = store.update_registered_model("churn", tags={"team": "b", "x": "1"})
    assert changed.tags == {"team": "b", "x": "1"} and changed.description == "predicts churn"
    store.delete_registered_model("churn")
    with pytest.raises(NotFound, match="churn"):
        store.get_registered_model("churn")
    with pytest.raises(InvalidParameter, match="model name"):
        store.create_registered_model("../etc")


def test_versions_count_up_per_model_and_keep_their_files(sql_store) -> None:
    first = _version(sql_store, signature={"inputs": [{"name": "age", "type": "long"}]}, source_run_id="r1")
    second = _version(
        sql_store, trusted=True, trusted_types=["numpy.dtype"], description="v2", tags={"k": "v"}
    )
    other = _version(sql_store, "other")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert [f.path for f in first.files] == ["model.skops", "README.md"] and first.size_bytes == 13
    assert first.signature == {"inputs": [{"name": "age", "type": "long"}]} and first.source_run_id == "r1"
    assert second.trusted and second.trusted_types == ("numpy.dtype",) and second.tags == {"k": "v"}
    assert [v.version for v in sql_store.list_model_versions("churn")] == [2, 1]
    assert sql_store.get_registered_model("churn").latest_version == 2
    assert sql_store.get_model_version("churn", 1) == first
    assert sql_store.resolve_model("churn") == sql_store.get_model_version("churn", 2)
    assert sql_store.resolve_model("churn:1") == first
    with pytest.raises(NotFound, match="no version 7"):
        sql_store.get_model_version("churn", 7)
    with pytest.raises(InvalidParameter, match="flavor"):
        sql_store.create_model_version(
            "churn", flavor="keras", files=first.files, sha256=_sha("x"), size_bytes=1
        )
    with pytest.raises(InvalidParameter, match="sha256"):
        sql_store.create_model_version(
            "churn", flavor="sklearn", files=first.files, sha256="nope", size_bytes=1
        )
    assert [v.version for v in sql_store.list_model_versions("churn")] == [2, 1], "nothing half-written"


@pytest.mark.catalogue("C3")
def test_clients_creating_one_model_name_at_once_make_one_model(store) -> None:
    """RELIABILITY C3 for model names, on SQLite, PostgreSQL and over REST: 20 clients create the same
    name at once; one model exists, one client created it, each other got a clean AlreadyExists
    (over REST a 409), none an error of another kind."""
    created, refused, other = [], [], []
    start = threading.Barrier(20)

    def create(i: int) -> None:
        start.wait()
        try:
            created.append(store.create_registered_model("contested", description=f"by {i}").description)
        except AlreadyExists as err:
            refused.append(err.message)
        except Exception as err:
            other.append(repr(err))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert other == [] and len(created) == 1 and len(refused) == 19, (created, other)
    assert all("contested" in message and "already exists" in message for message in refused), refused
    models = [m for m in store.list_registered_models() if m.name == "contested"]
    assert len(models) == 1 and models[0].description == created[0]


def test_concurrent_registrations_get_distinct_numbers(sql_store) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def register() -> None:
        for _ in range(5):
            number = _version(sql_store, "busy").version
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 21))


def test_aliases_are_set_moved_removed_and_follow_deleted_versions(sql_store) -> None:
    _version(sql_store)
    _version(sql_store)
    sql_store.set_model_alias("churn", "production", 1)
    sql_store.set_model_alias("churn", "staging", 2)
    assert sql_store.get_registered_model("churn").aliases == {"production": 1, "staging": 2}
    assert sql_store.resolve_model("churn@production").version == 1
    assert sql_store.get_model_version("churn", 1).aliases == ("production",)
    sql_store.set_model_alias("churn", "production", 2)  # moved
    assert sql_store.get_model_version_by_alias("churn", "production").version == 2
    assert sql_store.get_model_version("churn", 2).aliases == ("production", "staging")
    sql_store.delete_model_alias("churn", "staging")
    with pytest.raises(NotFound, match="staging"):
        sql_store.get_model_version_by_alias("churn", "staging")
    with pytest.raises(NotFound):
        sql_store.set_model_alias("churn", "canary", 9)
    with pytest.raises(InvalidParameter, match="alias"):
        sql_store.set_model_alias("churn", "Prod!", 1)
    sql_store.delete_model_version("churn", 2)
    assert sql_store.get_registered_model("churn").aliases == {}
    sql_store.update_model_version("churn", 1, trusted=True, description="ok")
    assert sql_store.get_model_version("churn", 1).trusted


def _endpoint(name: str = "churn-api", **extra) -> Endpoint:
    blue = Deployment("blue", "churn@production", 1, 100, _sha("m1"))
    return Endpoint(
        name, deployments=(blue,), key_hashes={"primary": _sha("k1"), "secondary": _sha("k2")}, **extra
    )


def test_endpoints_round_trip_with_their_key_hashes(store) -> None:
    skip_on_rest(store, "endpoints are deployed by the server (POST /endpoints); key hashes never travel")
    made = store.create_endpoint(_endpoint(replicas=2))
    assert made.created_time > 0 and made.state == "creating"
    got = store.get_endpoint("churn-api")
    assert got == made and got.key_hashes["primary"] == _sha("k1")
    assert "key_hashes" not in got.to_dict() and got.to_dict(with_keys=True)["key_hashes"][
        "secondary"
    ] == _sha("k2")
    with pytest.raises(AlreadyExists):
        store.create_endpoint(_endpoint())
    green = Deployment("green", "churn:2", 2, 10, _sha("m2"))
    blue = Deployment("blue", "churn@production", 1, 90, _sha("m1"))
    changed = store.update_endpoint(
        "churn-api",
        deployments=(blue, green),
        state="running",
        port=8123,
        owner="host:1",
        stats={"requests": 5},
    )
    assert [d.traffic for d in changed.deployments] == [90, 10]
    assert store.get_endpoint("churn-api") == changed and changed.stats == {"requests": 5}
    with pytest.raises(InvalidParameter, match="add up to 100"):
        store.update_endpoint("churn-api", deployments=(green,))
    assert store.get_endpoint("churn-api").deployments == (blue, green), "a refused change writes nothing"
    with pytest.raises(InvalidParameter, match="cannot change"):
        store.update_endpoint("churn-api", colour="blue")
    assert [e.name for e in store.list_endpoints()] == ["churn-api"]
    store.delete_endpoint("churn-api")
    with pytest.raises(NotFound):
        store.get_endpoint("churn-api")


def test_a_deleted_versions_number_is_never_given_again(sql_store) -> None:
    _version(sql_store)
    _version(sql_store)
    sql_store.delete_model_version("churn", 2)
    assert _version(sql_store).version == 3
    assert [v.version for v in sql_store.list_model_versions("churn")] == [3, 1]
    assert sql_store.get_registered_model("churn").latest_version == 3


def test_a_renamed_model_keeps_its_versions_aliases_and_tags(sql_store) -> None:
    """MLflow's `registered-models/rename` (server/mlflow_api/registry.py) relies on this."""
    sql_store.create_registered_model("old", tags={"team": "a"})
    _version(sql_store, "old")
    sql_store.set_model_alias("old", "prod", 1)
    sql_store.create_registered_model("taken")
    with pytest.raises(AlreadyExists, match="taken"):
        sql_store.rename_registered_model("old", "taken")
    with pytest.raises(InvalidParameter):
        sql_store.rename_registered_model("old", "no spaces allowed")
    with pytest.raises(NotFound):
        sql_store.rename_registered_model("missing", "other")
    renamed = sql_store.rename_registered_model("old", "new")
    assert (renamed.name, renamed.tags, renamed.aliases, renamed.latest_version) == (
        "new",
        {"team": "a"},
        {"prod": 1},
        1,
    )
    assert sql_store.get_model_version_by_alias("new", "prod").version == 1
    with pytest.raises(NotFound):
        sql_store.get_registered_model("old")
    _version(sql_store, "new", description="next")
    assert [v.version for v in sql_store.list_model_versions("new")] == [2, 1]  # numbering goes on
