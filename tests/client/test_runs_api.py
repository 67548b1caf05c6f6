"""The Python API of DESIGN.md §5 against a real SQLite workspace and artifact folder."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import jupyter_mlws as mlws
from jupyter_mlws.errors import Conflict, InvalidParameter, NotFound


def test_public_names_are_exported() -> None:
    for name in ("Workspace", "start_run", "log_metric", "log_param", "search_runs", "active_run"):
        assert name in mlws.__all__ and callable(getattr(mlws, name))


def test_workspace_resolves_from_env_and_default_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "from-env"))
    ws = mlws.Workspace()
    assert ws.location.workspace == str(tmp_path / "from-env")
    assert (tmp_path / "from-env" / "mlws.db").exists()
    ws.close()
    monkeypatch.delenv("MLWS_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    ws = mlws.Workspace()
    assert ws.location.workspace == str(tmp_path / ".mlws")
    ws.close()
    ws = mlws.Workspace(tmp_path / "explicit")
    from jupyter_mlws.store.sql.schema import SCHEMA_VERSION

    assert ws.describe()["store"]["schema_version"] == SCHEMA_VERSION
    ws.close()


def test_experiment_is_get_or_create(ws) -> None:
    first = ws.experiment("churn")
    assert ws.experiment("churn").id == first.id
    assert [e.name for e in ws.experiments()] == ["churn"]


def test_the_design_example_end_to_end(ws, tmp_path: Path) -> None:
    model = tmp_path / "model.skops"
    model.write_bytes(b"weights")
    with mlws.start_run(experiment="churn", name="baseline", tags={"team": "a"}) as run:
        assert mlws.active_run().id == run.id
        mlws.log_param("lr", 0.01)
        mlws.log_params({"depth": 3})
        mlws.log_metric("loss", 0.31, step=1)
        mlws.log_metrics({"acc": 0.9}, step=1)
        mlws.set_tag("stage", "dev")
        mlws.log_artifact(model)
        mlws.log_text("some notes", "notes.txt")
        assert run.status == "running"
    assert mlws.active_run() is None
    assert run.status == "completed"
    assert run.params == {"lr": "0.01", "depth": "3"}
    assert run.metrics == {"loss": 0.31, "acc": 0.9}
    assert run.tags == {"team": "a", "stage": "dev"}
    artifacts = run.artifacts()
    assert list(artifacts["path"]) == ["model.skops", "notes.txt"]
    assert list(artifacts["size"]) == [7, 10]
    same = ws.get_run(run.id)
    assert same.name == "baseline" and same.info.experiment_id == ws.experiment("churn").id


def test_exception_fails_the_run_and_keyboard_interrupt_kills_it(ws) -> None:
    with pytest.raises(ZeroDivisionError):
        with ws.start_run("e", "bad") as failing:
            failing.log_metric("x", 1.0)
            1 / 0  # noqa: B018
    assert failing.status == "failed"
    assert "ZeroDivisionError" in failing.info.status_reason
    assert failing.metrics == {"x": 1.0}  # flushed before it ended
    with pytest.raises(KeyboardInterrupt):
        with ws.start_run("e", "interrupted") as interrupted:
            raise KeyboardInterrupt
    assert interrupted.status == "killed"


def test_nested_runs_and_a_second_top_level_run(ws) -> None:
    with mlws.start_run(experiment="sweep", name="parent") as parent:
        with pytest.raises(Conflict, match="nested=True"):
            mlws.start_run(experiment="sweep")
        with mlws.start_run(experiment="sweep", name="child", nested=True) as child:
            assert mlws.active_run().id == child.id
            mlws.log_metric("score", 1.0)
        assert mlws.active_run().id == parent.id
    assert child.info.parent_run_id == parent.id
    frame = ws.runs("sweep", filter=f"parent_run_id = '{parent.id}'")
    assert list(frame["name"]) == ["child"]


def test_params_are_immutable_through_the_api(ws) -> None:
    with ws.start_run("e") as run:
        run.log_param("lr", 0.01)
        run.log_param("lr", 0.01)
        with pytest.raises(Conflict, match="cannot change"):
            run.log_param("lr", 0.02)
    assert run.params == {"lr": "0.01"}


def test_steps_count_up_when_omitted_and_history_frames(ws) -> None:
    with ws.start_run("e") as run:
        for i in range(5000):
            run.log_metric("loss", 1 / (i + 1))
        run.log_metric("loss", math.nan)
    history = run.metric_history("loss")
    assert list(history.columns) == ["step", "timestamp", "value"]
    assert list(history["step"]) == list(range(5001))
    assert math.isnan(history["value"].iloc[-1]) and history["value"].iloc[0] == 1.0
    assert str(history["timestamp"].dtype).startswith("datetime64")
    small = run.metric_history("loss", max_points=100)
    assert len(small) <= 100 and small.attrs["total_points"] == 5001
    assert small["step"].iloc[0] == 0 and small["step"].iloc[-1] == 5000


def test_bad_values_fail_in_the_callers_cell(ws) -> None:
    with ws.start_run("e") as run:
        with pytest.raises(InvalidParameter, match="number"):
            run.log_metric("loss", "high")
        with pytest.raises(InvalidParameter, match="between 0"):
            run.log_metric("loss", 1.0, step=-3)
        with pytest.raises(InvalidParameter, match="U\\+200B"):
            run.log_metric("lo\u200bss", 1.0)


def test_sync_logging_is_durable_on_return(ws) -> None:
    from jupyter_mlws.store.factory import open_store

    with ws.start_run("e") as run:
        run.log_metric("loss", 0.5, step=3, sync=True)
        with open_store(ws.location.store_url) as other:  # another connection, no flush
            assert other.get_run(run.id).data.metrics == {"loss": 0.5}


def test_get_run_of_unknown_id(ws) -> None:
    with pytest.raises(NotFound):
        ws.get_run("f" * 32)


def test_attach_to_a_run_through_the_environment(ws, monkeypatch) -> None:
    run = ws.start_run("jobs", "queued-job")
    run.end("completed")
    queued = ws.store.create_run(ws.experiment("jobs").id, status="queued").info
    monkeypatch.setenv("MLWS_RUN_ID", queued.run_id)
    assert mlws.active_run().id == queued.run_id
    with mlws.start_run() as attached:
        assert attached.id == queued.run_id and attached.status == "running"
        mlws.log_metric("m", 2.0)
    assert ws.get_run(queued.run_id).status == "completed"


def test_a_deleted_experiment_is_created_again_by_the_next_run(ws) -> None:
    first = ws.start_run(experiment="scratch", name="one")
    first.end()
    old_id = first.info.experiment_id
    ws.store.delete_run(first.id)
    ws.store.delete_experiment(old_id)
    second = ws.start_run(experiment="scratch", name="two")
    second.end()
    assert ws.experiment("scratch").id == second.info.experiment_id
    assert list(ws.runs(experiment="scratch")["name"]) == ["two"]
