"""Store contract for what MLflow's API needs (store/base_mlflow.py): soft delete of experiments and
runs, experiment tags, deleting a run tag, run inputs/outputs and MLflow 3 logged models.

Run on SQLite and PostgreSQL. The REST store's server has no routes for these yet (the MLflow API
of issue 17 writes the store directly), so the REST backend is skipped before a server starts;
`test_rest_store_reads_defaults_and_refuses_what_it_cannot_serve` covers what it does.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from jupyter_mlws.errors import AlreadyExists, Conflict, InvalidParameter, NotFound

from .conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The SQL backends' URLs; the REST one is skipped before its server starts."""
    if request.param == "rest":
        pytest.skip(
            "REST store: the server has no /mlws/api/v1 routes for soft delete, deleting experiment "
            "tags, run I/O or logged models (what it serves is tested by "
            "test_rest_store_reads_defaults_and_refuses_what_it_cannot_serve)"
        )
    return str(request.getfixturevalue(f"{request.param}_url"))


def _ids(table) -> list[str]:
    return [info.run_id for info in table.runs]


# ----- lifecycle -----------------------------------------------------------------------------------
def test_deleted_run_is_hidden_from_search_but_read_by_id_and_restored(store) -> None:
    exp = store.create_experiment("soft")
    kept = store.create_run(exp.experiment_id, name="kept").info.run_id
    gone = store.create_run(exp.experiment_id, name="gone").info.run_id
    assert store.get_run(gone).info.lifecycle_stage == "active"

    deleted = store.set_run_lifecycle(gone, "deleted")
    assert (deleted.run_id, deleted.lifecycle_stage, deleted.status.value) == (gone, "deleted", "running")
    assert _ids(store.search_runs()) == [kept]
    assert _ids(store.search_runs([exp.experiment_id], view="deleted")) == [gone]
    assert sorted(_ids(store.search_runs(view="all"))) == sorted([kept, gone])
    assert [i.run_id for page in store.iter_runs() for i in page.runs] == [kept]
    assert store.get_run(gone).info.lifecycle_stage == "deleted"
    # The supervisor still sees a deleted run that is running, so it ends when its kernel dies.
    assert sorted(i.run_id for i in store.running_runs()) == sorted([kept, gone])

    assert store.set_run_lifecycle(gone, "active").lifecycle_stage == "active"
    assert sorted(_ids(store.search_runs())) == sorted([kept, gone])


def test_deleted_experiment_is_hidden_but_readable_keeps_its_name_and_runs(store) -> None:
    doomed = store.create_experiment("doomed")
    store.create_experiment("kept")
    run_id = store.create_run(doomed.experiment_id).info.run_id

    deleted = store.set_experiment_lifecycle(doomed.experiment_id, "deleted")
    assert deleted.lifecycle_stage == "deleted" and deleted.last_update_time >= doomed.last_update_time
    assert [e.name for e in store.list_experiments()] == ["kept"]
    assert [e.name for e in store.list_experiments(view="deleted")] == ["doomed"]
    assert [e.name for e in store.list_experiments(view="all")] == ["doomed", "kept"]
    assert store.get_experiment(doomed.experiment_id).lifecycle_stage == "deleted"
    assert store.get_experiment_by_name("doomed").lifecycle_stage == "deleted"
    with pytest.raises(AlreadyExists, match="doomed"):
        store.create_experiment("doomed")
    with pytest.raises(Conflict, match="'doomed' is deleted"):
        store.get_or_create_experiment("doomed")
    # As in MLflow, the runs keep their own stage.
    assert _ids(store.search_runs([doomed.experiment_id])) == [run_id]

    store.set_experiment_lifecycle(doomed.experiment_id, "active")
    assert [e.name for e in store.list_experiments()] == ["doomed", "kept"]
    assert store.get_or_create_experiment("doomed").experiment_id == doomed.experiment_id


def test_lifecycle_refuses_unknown_stages_views_and_missing_ids(store) -> None:
    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id).info.run_id
    with pytest.raises(InvalidParameter, match="'archived'"):
        store.set_run_lifecycle(run_id, "archived")
    with pytest.raises(InvalidParameter, match="'DELETED'"):
        store.set_experiment_lifecycle(exp.experiment_id, "DELETED")
    with pytest.raises(NotFound, match="99999"):
        store.set_experiment_lifecycle(99999, "deleted")
    with pytest.raises(NotFound, match="f" * 32):
        store.set_run_lifecycle("f" * 32, "deleted")
    with pytest.raises(InvalidParameter, match="'trash'"):
        store.search_runs(view="trash")
    with pytest.raises(InvalidParameter, match="'gone'"):
        store.list_experiments(view="gone")
    assert store.get_run(run_id).info.lifecycle_stage == "active"


# ----- tags ----------------------------------------------------------------------------------------
def test_experiment_tags_set_overwrite_delete_and_listed(store) -> None:
    churn = store.create_experiment("churn")
    plain = store.create_experiment("plain")
    store.set_experiment_tag(churn.experiment_id, "team", "a")
    store.set_experiment_tag(churn.experiment_id, "mlflow.note.content", "baseline models")
    store.set_experiment_tag(churn.experiment_id, "team", "b")
    expected = {"team": "b", "mlflow.note.content": "baseline models"}
    assert store.get_experiment(churn.experiment_id).tags == expected
    assert store.get_experiment_by_name("churn").tags == expected
    assert {e.name: e.tags for e in store.list_experiments()} == {"churn": expected, "plain": {}}

    store.delete_experiment_tag(churn.experiment_id, "team")
    assert store.get_experiment(churn.experiment_id).tags == {"mlflow.note.content": "baseline models"}
    with pytest.raises(NotFound, match="'team'"):
        store.delete_experiment_tag(churn.experiment_id, "team")
    with pytest.raises(NotFound, match="99999"):
        store.set_experiment_tag(99999, "team", "a")
    with pytest.raises(NotFound, match="99999"):
        store.delete_experiment_tag(99999, "team")
    with pytest.raises(InvalidParameter):
        store.set_experiment_tag(churn.experiment_id, "bad\x00key", "v")

    # A hard delete takes the tags along: a new experiment never inherits them.
    store.set_experiment_tag(plain.experiment_id, "old", "yes")
    store.delete_experiment(plain.experiment_id)
    assert store.create_experiment("plain").tags == {}
    assert {e.name: e.tags for e in store.list_experiments()}["plain"] == {}


def test_delete_tag_removes_one_run_tag_and_is_heard_by_the_change_feed(store) -> None:
    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id, tags={"keep": "1", "drop": "2"}).info.run_id
    cursor = store.changes_since(None).cursor
    store.delete_tag(run_id, "drop")
    assert store.get_run(run_id).data.tags == {"keep": "1"}
    assert store.search_runs().tags == {"keep": ["1"]}
    assert [e["action"] for e in store.changes_since(cursor).events] == ["updated"]
    with pytest.raises(NotFound, match="'drop'"):
        store.delete_tag(run_id, "drop")
    with pytest.raises(NotFound, match="a" * 32):
        store.delete_tag("a" * 32, "keep")
    store.set_tag(run_id, "drop", "again")
    assert store.get_run(run_id).data.tags == {"keep": "1", "drop": "again"}


# ----- run inputs and outputs ----------------------------------------------------------------------
def test_run_io_is_kept_in_order_once_each_and_goes_with_the_run(store) -> None:
    from jupyter_mlws.store.sql.schema import run_io

    exp = store.create_experiment("e")
    run_id = store.create_run(exp.experiment_id).info.run_id
    context = [{"key": "mlflow.data.context", "value": "train"}]
    iris = {"dataset": {"name": "iris", "digest": "d1"}, "tags": context}
    wine = {"dataset": {"name": "wine", "digest": "d2"}, "tags": []}
    model = {"model_id": "m-" + "1" * 32, "step": 0}
    store.record_run_io(run_id, "input", [iris, wine])
    store.record_run_io(run_id, "output", [model])
    # The same items again (keys in another order, repeated in one call) add nothing.
    store.record_run_io(run_id, "input", [{"tags": iris["tags"], "dataset": iris["dataset"]}, wine, wine])
    store.record_run_io(run_id, "output", [model, {"model_id": "m-" + "2" * 32, "step": 1}])
    assert store.list_run_io(run_id) == [
        ("input", iris),
        ("input", wine),
        ("output", model),
        ("output", {"model_id": "m-" + "2" * 32, "step": 1}),
    ]
    store.record_run_io(run_id, "output", [])

    with pytest.raises(InvalidParameter, match="'sideways'"):
        store.record_run_io(run_id, "sideways", [iris])
    with pytest.raises(InvalidParameter, match="item 1 is not JSON"):
        store.record_run_io(run_id, "input", [{"ok": 1}, {"bad": float("nan")}])
    with pytest.raises(InvalidParameter, match="item 0 is a JSON object"):
        store.record_run_io(run_id, "input", ["not an object"])
    assert len(store.list_run_io(run_id)) == 4  # the refused calls stored nothing
    with pytest.raises(NotFound, match="b" * 32):
        store.record_run_io("b" * 32, "input", [iris])

    store.delete_run(run_id)
    with pytest.raises(NotFound):
        store.list_run_io(run_id)
    with store.reader.connect() as conn:
        assert conn.execute(select(func.count()).select_from(run_io)).scalar() == 0


# ----- logged models -------------------------------------------------------------------------------
def test_logged_model_create_get_update_tags_params_and_delete(store) -> None:
    exp = store.create_experiment("models")
    run_id = store.create_run(exp.experiment_id).info.run_id
    created = store.create_logged_model(
        exp.experiment_id,
        "model",
        model_type="sklearn",
        source_run_id=run_id,
        params={"alpha": 0.5},
        tags={"mlflow.source.name": "train.py"},
    )
    assert created.model_id.startswith("m-") and len(created.model_id) == 34
    assert (created.status, created.artifact_location, created.lifecycle_stage) == ("PENDING", "", "active")
    assert created.params == {"alpha": "0.5"} and created.source_run_id == run_id
    assert store.get_logged_model(created.model_id) == created

    location = f"mlflow-artifacts:/{exp.experiment_id}/models/{created.model_id}/artifacts"
    store.update_logged_model(created.model_id, artifact_location=location)
    ready = store.update_logged_model(created.model_id, status="READY", status_message="uploaded")
    assert (ready.status, ready.status_message, ready.artifact_location) == ("READY", "uploaded", location)
    assert ready.last_updated_timestamp >= created.last_updated_timestamp
    assert store.get_logged_model(created.model_id) == ready
    with pytest.raises(InvalidParameter, match="'DONE'"):
        store.update_logged_model(created.model_id, status="DONE")

    store.set_logged_model_tags(created.model_id, {"stage": "dev", "owner": "ann"})
    store.set_logged_model_tags(created.model_id, {"stage": "prod"})
    store.delete_logged_model_tag(created.model_id, "owner")
    tags = store.get_logged_model(created.model_id).tags
    assert tags == {"mlflow.source.name": "train.py", "stage": "prod"}
    with pytest.raises(NotFound, match="'owner'"):
        store.delete_logged_model_tag(created.model_id, "owner")

    store.log_logged_model_params(created.model_id, {"alpha": "0.5", "depth": "3"})
    with pytest.raises(InvalidParameter, match="'alpha'.*cannot change"):
        store.log_logged_model_params(created.model_id, {"alpha": "0.9", "new": "x"})
    assert store.get_logged_model(created.model_id).params == {"alpha": "0.5", "depth": "3"}

    store.delete_logged_model(created.model_id)
    assert store.get_logged_model(created.model_id).lifecycle_stage == "deleted"
    assert store.search_logged_models([exp.experiment_id]) == ([], None)
    assert [m.model_id for m in store.search_logged_models(None, view="deleted")[0]] == [created.model_id]


def test_logged_model_bad_input_and_missing_things(store) -> None:
    exp = store.create_experiment("models")
    missing = "m-" + "0" * 32
    for call in (
        lambda: store.get_logged_model(missing),
        lambda: store.update_logged_model(missing, status="READY"),
        lambda: store.set_logged_model_tags(missing, {"a": "b"}),
        lambda: store.delete_logged_model_tag(missing, "a"),
        lambda: store.log_logged_model_params(missing, {"a": "b"}),
        lambda: store.delete_logged_model(missing),
    ):
        with pytest.raises(NotFound, match=missing):
            call()
    with pytest.raises(NotFound, match="99999"):
        store.create_logged_model(99999, "model")
    with pytest.raises(NotFound, match="c" * 32):
        store.create_logged_model(exp.experiment_id, "model", source_run_id="c" * 32)
    with pytest.raises(InvalidParameter, match="'nope'"):
        store.create_logged_model(exp.experiment_id, "model", model_id="nope")
    given = store.create_logged_model(exp.experiment_id, "model", model_id=missing)
    assert store.get_logged_model(missing) == given
    with pytest.raises(AlreadyExists, match=missing):
        store.create_logged_model(exp.experiment_id, "model", model_id=missing)
    for limit in (0, 1001, True):
        with pytest.raises(InvalidParameter, match="limit"):
            store.search_logged_models(None, limit=limit)
    with pytest.raises(InvalidParameter, match="page token"):
        store.search_logged_models(None, page_token="not-a-token")
    with pytest.raises(InvalidParameter, match="'archived'"):
        store.search_logged_models(None, view="archived")
    # A hard-deleted experiment takes its logged models along.
    store.delete_experiment(exp.experiment_id)
    with pytest.raises(NotFound):
        store.get_logged_model(missing)


def test_logged_model_search_pages_newest_first(store) -> None:
    first = store.create_experiment("first")
    second = store.create_experiment("second")
    made: dict[int, list[str]] = {first.experiment_id: [], second.experiment_id: []}
    for i in range(7):
        experiment_id = first.experiment_id if i < 5 else second.experiment_id
        made[experiment_id].append(store.create_logged_model(experiment_id, f"model-{i}").model_id)
        time.sleep(0.002)  # distinct creation times, so "newest first" is one order

    pages, token = [], None
    while True:
        page, token = store.search_logged_models([first.experiment_id], limit=2, page_token=token)
        pages.append([m.model_id for m in page])
        if token is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [m for p in pages for m in p] == made[first.experiment_id][::-1]
    everything, token = store.search_logged_models(None)
    assert token is None
    assert [m.model_id for m in everything] == (made[first.experiment_id] + made[second.experiment_id])[::-1]
    assert store.search_logged_models([second.experiment_id])[0][0].name == "model-6"
    assert store.search_logged_models([]) == ([], None)


# ----- the REST store ------------------------------------------------------------------------------
def test_rest_store_reads_defaults_and_refuses_what_it_cannot_serve(rest_url: str) -> None:
    from jupyter_mlws.store.factory import open_store

    with open_store(rest_url) as store:
        # A GET first: it is retried while the server's stores open; a POST answered 503 is not.
        assert store.list_experiments() == []
        exp = store.create_experiment("over-http")
        assert (exp.lifecycle_stage, exp.tags) == ("active", {})
        assert store.list_experiments()[0].lifecycle_stage == "active"
        run = store.create_run(exp.experiment_id)
        assert store.get_run(run.info.run_id).info.lifecycle_stage == "active"
        assert store.search_runs().runs[0].lifecycle_stage == "active"
        assert [i.run_id for i in store.running_runs()] == [run.info.run_id]
        # Setting an experiment tag goes through PATCH /experiments/{id}; a bad key is the server's 400.
        store.set_experiment_tag(exp.experiment_id, "team", "a")
        store.set_experiment_tag(exp.experiment_id, "stage", "dev")
        assert store.get_experiment(exp.experiment_id).tags == {"team": "a", "stage": "dev"}
        with pytest.raises(InvalidParameter):
            store.set_experiment_tag(exp.experiment_id, "bad\x00key", "v")
        with pytest.raises(InvalidParameter, match="'trash'"):
            store.search_runs(view="trash")
        for call in (
            lambda: store.search_runs(view="all"),
            lambda: store.list_experiments(view="deleted"),
            lambda: store.set_run_lifecycle(run.info.run_id, "deleted"),
            lambda: store.delete_experiment_tag(exp.experiment_id, "a"),
            lambda: store.delete_tag(run.info.run_id, "a"),
            lambda: store.record_run_io(run.info.run_id, "input", [{}]),
            lambda: store.create_logged_model(exp.experiment_id, "model"),
        ):
            with pytest.raises(NotImplementedError, match="no /mlws/api/v1 route"):
                call()
