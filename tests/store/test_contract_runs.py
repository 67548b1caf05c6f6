"""Store contract: experiments, runs, params, tags and artifact records, on every backend."""

from __future__ import annotations

import threading
import unicodedata

import pytest

from jupyter_mlws.entities import ArtifactRecord, RunStatus
from jupyter_mlws.errors import AlreadyExists, Conflict, InvalidParameter, NotFound, RunEnded

from .conftest import skip_on_rest


def test_experiment_create_get_list(store) -> None:
    created = store.create_experiment("churn")
    assert store.get_experiment(created.experiment_id) == created
    assert store.get_experiment_by_name("churn") == created
    assert store.get_experiment_by_name("missing") is None
    second = store.create_experiment("fraud")
    assert [e.name for e in store.list_experiments()] == ["churn", "fraud"]
    assert second.experiment_id != created.experiment_id
    with pytest.raises(NotFound):
        store.get_experiment(99999)


@pytest.mark.catalogue("P9")
def test_duplicate_experiment_is_already_exists_even_as_nfd_twin(store) -> None:
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    store.create_experiment(nfc)
    with pytest.raises(AlreadyExists, match="already exists"):
        store.create_experiment(nfd)
    assert store.get_experiment_by_name(nfd).name == nfc
    assert store.get_or_create_experiment(nfd).name == nfc
    assert len(store.list_experiments()) == 1


@pytest.mark.catalogue("C3")
def test_concurrent_get_or_create_makes_one_experiment(store) -> None:
    """RELIABILITY C3 (threads here; processes in test_sqlite_concurrency)."""
    results, errors = [], []

    def create() -> None:
        try:
            results.append(store.get_or_create_experiment("same").experiment_id)
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    assert [e.name for e in store.list_experiments()] == ["same"]


def test_run_lifecycle_and_fields(store) -> None:
    exp = store.create_experiment("e")
    parent = store.create_run(
        exp.experiment_id,
        name="parent",
        tags={"team": "a"},
        user="ann",
        source_kind="cell",
        compute_target="cpu-small",
        notebook_path="nb/x.ipynb",
        cell_id="c-1",
    )
    info = parent.info
    assert info.status == RunStatus.RUNNING and info.start_time and info.end_time is None
    assert (info.user, info.source_kind, info.compute_target, info.notebook_path, info.cell_id) == (
        "ann",
        "cell",
        "cpu-small",
        "nb/x.ipynb",
        "c-1",
    )
    child = store.create_run(exp.experiment_id, name="child", parent_run_id=info.run_id)
    assert store.get_run(child.info.run_id).info.parent_run_id == info.run_id
    got = store.get_run(info.run_id)
    assert got.info == info and got.data.tags == {"team": "a"}
    ended = store.end_run(info.run_id, "completed")
    assert ended.status == RunStatus.COMPLETED and ended.end_time >= ended.start_time
    with pytest.raises(Conflict, match="already ended"):
        store.update_run(info.run_id, status="running")
    assert store.update_run(info.run_id, status="completed").status == RunStatus.COMPLETED
    with pytest.raises(NotFound):
        store.get_run("0" * 32)
    with pytest.raises(NotFound):
        store.create_run(exp.experiment_id, parent_run_id="f" * 32)


def test_queued_run_transitions(store) -> None:
    exp = store.create_experiment("e")
    run = store.create_run(exp.experiment_id, status="queued").info
    assert run.status == RunStatus.QUEUED and run.start_time is None
    started = store.update_run(run.run_id, status="running")
    assert started.status == RunStatus.RUNNING and started.start_time is not None
    assert store.update_run(run.run_id, status="canceled").status == RunStatus.CANCELED
    other = store.create_run(exp.experiment_id, status="queued").info
    assert (
        store.update_run(other.run_id, status="killed", status_reason="worker lost").status_reason
        == "worker lost"
    )
    with pytest.raises(InvalidParameter, match="queued"):
        store.create_run(exp.experiment_id, status="completed")
    with pytest.raises(InvalidParameter, match="Unknown run status"):
        store.update_run(other.run_id, status="finished")


@pytest.mark.catalogue("K5")
def test_heartbeat_moves_forward_and_cannot_resurrect(store) -> None:
    exp = store.create_experiment("e")
    run = store.create_run(exp.experiment_id).info
    later = run.start_time + 60_000
    assert store.heartbeat(run.run_id, later) == RunStatus.RUNNING
    assert store.get_run(run.run_id).info.heartbeat_time == later
    store.heartbeat(run.run_id, later - 5)  # an old beat never moves it back
    assert store.get_run(run.run_id).info.heartbeat_time == later
    store.end_run(run.run_id, "killed", "lease expired")
    with pytest.raises(RunEnded, match="was ended killed: lease expired"):  # 409 over REST (K5)
        store.heartbeat(run.run_id, later + 10)
    after = store.get_run(run.run_id).info
    assert after.status == RunStatus.KILLED and after.heartbeat_time == later


def test_params_are_immutable_and_batches_all_or_nothing(store) -> None:
    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id).info.run_id
    store.log_param(run_id, "lr", 0.01)
    store.log_param(run_id, "lr", "0.01")  # same value: fine
    with pytest.raises(Conflict, match="cannot change"):
        store.log_batch(
            run_id,
            metrics=[("loss", 1.0, 0, 1_700_000_000_000)],
            params={"lr": 0.02, "new": 1},
            tags={"t": "v"},
        )
    data = store.get_run(run_id).data
    assert data.params == {"lr": "0.01"} and data.metrics == {} and data.tags == {}
    with pytest.raises(InvalidParameter):
        store.log_batch(
            run_id, metrics=[("ok", 1.0, 0, 1_700_000_000_000), ("bad", "x", 0, 1_700_000_000_000)]
        )
    assert store.get_run(run_id).data.metrics == {}
    big = "x" * 6001
    with pytest.raises(InvalidParameter, match="6000"):
        store.log_param(run_id, "big", big)
    store.log_param(run_id, "big", big[:6000])
    assert store.get_run(run_id).data.params["big"] == big[:6000]


def test_tags_overwrite(store) -> None:
    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id, tags={"stage": "dev"}).info.run_id
    store.set_tag(run_id, "stage", "prod")
    store.set_tags(run_id, {"team": "b", "ünï": "cödé"})
    assert store.get_run(run_id).data.tags == {"stage": "prod", "team": "b", "ünï": "cödé"}


def test_logging_to_a_missing_run_is_not_found(store) -> None:
    with pytest.raises(NotFound):
        store.log_metric("a" * 32, "loss", 1.0)


def test_artifact_records(store) -> None:
    skip_on_rest(
        store,
        "artifact records are created by the upload itself (PUT /runs/{id}/artifacts/{path}); a record without bytes is refused by design (RELIABILITY K6) — covered in tests/server/test_artifact_routes.py",
    )
    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id).info.run_id
    store.record_artifact(run_id, ArtifactRecord("outputs/model.skops", 10, "a" * 64))
    store.record_artifact(run_id, ArtifactRecord("outputs/sub/x.txt", 3, "b" * 64))
    store.record_artifact(run_id, ArtifactRecord("outputsX.txt", 1, "c" * 64))
    store.record_artifact(run_id, ArtifactRecord("outputs/model.skops", 12, "d" * 64))  # replaced
    assert [a.path for a in store.list_artifacts(run_id)] == [
        "outputs/model.skops",
        "outputs/sub/x.txt",
        "outputsX.txt",
    ]
    assert store.list_artifacts(run_id, "outputs") == [
        ArtifactRecord("outputs/model.skops", 12, "d" * 64),
        ArtifactRecord("outputs/sub/x.txt", 3, "b" * 64),
    ]
    store.delete_artifact_record(run_id, "outputsX.txt")
    assert len(store.list_artifacts(run_id)) == 2


def test_describe_names_the_schema_and_hides_passwords(store) -> None:
    from jupyter_mlws.store.sql.schema import SCHEMA_VERSION

    described = store.describe()
    if described["kind"] == "rest":
        assert described["server_store_kind"] == "sqlite"
        assert "token" not in str(described)
        return
    assert described["schema_version"] == SCHEMA_VERSION
    assert described["kind"] in ("sqlite", "postgresql")


def test_rename_experiment(store) -> None:
    first = store.create_experiment("old")
    store.create_experiment("taken")
    renamed = store.rename_experiment(first.experiment_id, "new")
    assert renamed.name == "new" and store.get_experiment_by_name("old") is None
    with pytest.raises(AlreadyExists):
        store.rename_experiment(first.experiment_id, "taken")
    with pytest.raises(NotFound):
        store.rename_experiment(99999, "other")
    with pytest.raises(InvalidParameter):
        store.rename_experiment(first.experiment_id, "a/../b")
    assert sorted(e.name for e in store.list_experiments()) == ["new", "taken"]


def test_delete_run_and_experiment_remove_everything_they_hold(store) -> None:
    skip_on_rest(
        store,
        "artifact records are created by the upload itself (PUT /runs/{id}/artifacts/{path}); a record without bytes is refused by design (RELIABILITY K6) — covered in tests/server/test_artifact_routes.py",
    )
    exp = store.create_experiment("doomed")
    keep = store.create_experiment("kept")
    run_id = store.create_run(exp.experiment_id, tags={"t": "v"}).info.run_id
    store.log_batch(run_id, metrics=[("m", 1.0, 0, 1_700_000_000_000)], params={"p": 1})
    store.record_artifact(run_id, ArtifactRecord("a.txt", 1, "e" * 64))
    other = store.create_run(exp.experiment_id).info.run_id
    survivor = store.create_run(keep.experiment_id).info.run_id
    store.delete_run(run_id)
    with pytest.raises(NotFound):
        store.get_run(run_id)
    with pytest.raises(NotFound):
        store.delete_run(run_id)
    assert [i.run_id for i in store.search_runs([exp.experiment_id]).runs] == [other]
    with pytest.raises(Conflict, match="still has 1 runs"):
        store.delete_experiment(exp.experiment_id)
    assert store.get_run(other).info.run_id == other
    store.delete_run(other)
    store.delete_experiment(exp.experiment_id)
    with pytest.raises(NotFound):
        store.delete_experiment(exp.experiment_id)
    assert [e.name for e in store.list_experiments()] == ["kept"]
    assert [i.run_id for i in store.search_runs().runs] == [survivor]
