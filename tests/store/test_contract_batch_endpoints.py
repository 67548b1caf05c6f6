"""Batch endpoints in every store (issue 16): SQLite, PostgreSQL and REST behave the same.

Over REST a batch endpoint is deployed by the server (`POST /batch-endpoints`, which checks that its
model resolves and its target is a cluster, and answers the keys once), so `_deploy` goes that way
there and through `create_batch_endpoint` on SQL; everything read back is then the same. What
REST refuses on purpose is tested as such: key hashes never travel, an invoke records the last job.
"""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

from jupyter_mlws.compute.clusters import validate_cluster
from jupyter_mlws.entities import ModelFile
from jupyter_mlws.errors import AlreadyExists, Forbidden, InvalidParameter, NotFound
from jupyter_mlws.model_entities import BATCH_SETTINGS, BatchEndpoint
from jupyter_mlws.models.files import manifest_sha256

from .conftest import skip_on_rest

SCRIPT = "def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _rest(store) -> bool:
    return type(store).__name__ == "RestStore"


@pytest.fixture
def ready(store):
    """The store with model "diabetes" (version 1, alias production) and cluster "cpu"."""
    data = b"not really a model"
    files = (ModelFile("model.skops", len(data), hashlib.sha256(data).hexdigest()),)
    if _rest(store):
        from jupyter_mlws.store.rest_artifacts import RestArtifactStore

        RestArtifactStore(store).put_blob(io.BytesIO(data), sha256=files[0].sha256)
    store.create_model_version(
        "diabetes", flavor="sklearn", files=files, sha256=manifest_sha256(files), size_bytes=len(data)
    )
    store.set_model_alias("diabetes", "production", 1)
    store.create_cluster(validate_cluster("cpu", min_nodes=0, max_nodes=1))
    return store


def _deploy(store, name: str, model: str | None = "diabetes@production", **fields) -> BatchEndpoint:
    """A new batch endpoint, as each backend makes one."""
    settings = {k: fields.pop(k) for k in list(fields) if k in BATCH_SETTINGS}
    script = fields.pop("entry_script", None)
    if _rest(store):
        body = dict(fields, **settings)
        if script is not None:
            body["entry_script"] = {"name": script[0], "source": script[1]}
        record, keys = store.deploy_batch_endpoint(name, model=model, target="cpu", **body)
        assert keys is not None and set(keys) == {"primary", "secondary"}
        return record
    return store.create_batch_endpoint(
        BatchEndpoint(
            name,
            model,
            "cpu",
            defaults={**BATCH_SETTINGS, **settings},
            entry_script=script[0] if script else None,
            entry_source=script[1] if script else None,
            key_hashes={"primary": _sha("k1"), "secondary": _sha("k2")},
            **fields,
        )
    )


def test_batch_endpoints_are_created_read_listed_changed_and_deleted(ready) -> None:
    store = ready
    made = _deploy(store, "diabetes-batch", mini_batch_size=5, description="nightly", tags={"team": "a"})
    assert (made.name, made.model, made.target) == ("diabetes-batch", "diabetes@production", "cpu")
    assert made.defaults == {**BATCH_SETTINGS, "mini_batch_size": 5}
    assert made.description == "nightly" and made.tags == {"team": "a"} and made.last_job_id is None
    assert made.created_time > 0 and made.updated_time == made.created_time
    got = store.get_batch_endpoint("diabetes-batch")
    assert got.to_dict() == made.to_dict()
    _deploy(store, "alpha-batch", model="diabetes:1")
    assert [e.name for e in store.list_batch_endpoints()] == ["alpha-batch", "diabetes-batch"]
    changed = store.update_batch_endpoint(
        "diabetes-batch",
        defaults={**made.defaults, "error_threshold": 3},
        description="hourly",
        tags={"b": "2"},
    )
    assert changed.defaults["error_threshold"] == 3 and changed.defaults["mini_batch_size"] == 5
    assert changed.description == "hourly" and changed.tags == {"b": "2"}
    assert changed.updated_time >= made.updated_time and changed.created_time == made.created_time
    assert store.get_batch_endpoint("diabetes-batch").to_dict() == changed.to_dict()
    store.delete_batch_endpoint("diabetes-batch")
    with pytest.raises(NotFound):
        store.get_batch_endpoint("diabetes-batch")
    with pytest.raises(NotFound):
        store.delete_batch_endpoint("diabetes-batch")
    with pytest.raises(NotFound):
        store.update_batch_endpoint("diabetes-batch", description="x")
    assert [e.name for e in store.list_batch_endpoints()] == ["alpha-batch"]


@pytest.mark.catalogue("A7")
def test_key_hashes_stay_in_the_store(ready) -> None:
    store = ready
    _deploy(store, "diabetes-batch")
    got = store.get_batch_endpoint("diabetes-batch")
    assert "key_hashes" not in got.to_dict()
    if _rest(store):
        assert got.key_hashes == {}, "key hashes never travel over HTTP"
        with pytest.raises(Forbidden):
            store.update_batch_endpoint("diabetes-batch", key_hashes={"primary": _sha("x")})
        with pytest.raises(Forbidden):
            store.create_batch_endpoint(BatchEndpoint("other", "diabetes", "cpu"))
        return
    assert got.key_hashes == {"primary": _sha("k1"), "secondary": _sha("k2")}
    rotated = store.update_batch_endpoint(
        "diabetes-batch", key_hashes={**got.key_hashes, "primary": _sha("k3")}
    )
    assert rotated.key_hashes["primary"] == _sha("k3") and rotated.key_hashes["secondary"] == _sha("k2")
    with pytest.raises(InvalidParameter):
        store.update_batch_endpoint("diabetes-batch", key_hashes={"tertiary": _sha("k4")})
    with pytest.raises(AlreadyExists):
        _deploy(store, "diabetes-batch")


def test_an_entry_script_is_kept_and_only_its_name_travels(ready) -> None:
    store = ready
    made = _deploy(store, "scripted", model=None, entry_script=("score.py", SCRIPT))
    assert made.model is None and made.entry_script == "score.py"
    got = store.get_batch_endpoint("scripted")
    assert got.entry_script == "score.py"
    assert got.entry_source == (None if _rest(store) else SCRIPT)
    changed = store.update_batch_endpoint("scripted", model="diabetes")
    assert changed.model == "diabetes" and changed.entry_script == "score.py"


def test_bad_endpoints_are_refused_and_nothing_is_stored(ready) -> None:
    store = ready
    with pytest.raises(InvalidParameter):
        _deploy(store, "Bad_Name")
    with pytest.raises(InvalidParameter):
        _deploy(store, "bad-ref", model="diabetes@@x")
    with pytest.raises(InvalidParameter):
        _deploy(store, "no-model", model=None)
    assert store.list_batch_endpoints() == []
    _deploy(store, "good")
    with pytest.raises(InvalidParameter):
        store.update_batch_endpoint("good", colour="blue")
    assert store.get_batch_endpoint("good").defaults == BATCH_SETTINGS, "a refused change writes nothing"


def test_the_last_job_is_recorded_without_moving_the_update_time(ready) -> None:
    store = ready
    made = _deploy(store, "diabetes-batch")
    if _rest(store):
        with pytest.raises(Forbidden):
            store.update_batch_endpoint("diabetes-batch", last_job_id="a" * 32)
        return
    recorded = store.update_batch_endpoint("diabetes-batch", last_job_id="a" * 32)
    assert recorded.last_job_id == "a" * 32 and recorded.updated_time == made.updated_time
    with pytest.raises(InvalidParameter):
        store.update_batch_endpoint("diabetes-batch", last_job_id="not a job id")


@pytest.mark.catalogue("C3")
def test_of_concurrent_creations_one_wins(ready) -> None:
    store = ready
    skip_on_rest(store, "POST /batch-endpoints creates or changes: a second deploy changes the first")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        try:
            _deploy(store, "shared")
            outcomes.append("made")
        except AlreadyExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["exists", "exists", "exists", "made"]
