"""The stock MLflow client (3.x) against the workspace's MLflow API: tracking, artifacts, autolog.

Every test drives the real `mlflow` package through `MLFLOW_TRACKING_URI`/`MLFLOW_TRACKING_TOKEN`
against a real Jupyter server process under a base URL prefix, and checks what a user would see:
the values MLflow reads back, the exceptions MLflow users catch, and the same runs in `ws.runs`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import tracking_uri


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw_call(
    server: Any, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One HTTP call to the MLflow API as any client makes it; (status, parsed JSON)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{tracking_uri(server)}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token != "":
        request.add_header("Authorization", f"Bearer {token or server.token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, text.decode(errors="replace")


def error_code(err: BaseException) -> str:
    return getattr(err, "error_code", "")


def test_experiment_lifecycle_and_the_errors_mlflow_users_catch(mlflow: Any, ws: Any) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = unique("exp")
    exp_id = client.create_experiment(name, tags={"team": "risk"})
    got = client.get_experiment(exp_id)
    assert (got.name, got.tags.get("team"), got.lifecycle_stage) == (name, "risk", "active")
    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert name in [e.name for e in ws.experiments()]  # one workspace: our API sees it

    with pytest.raises(MlflowException) as dup:
        client.create_experiment(name)
    assert error_code(dup.value) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as gone:
        client.get_experiment("987654321")
    assert error_code(gone.value) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name(unique("nobody")) is None

    client.set_experiment_tag(exp_id, "stage", "dev")
    renamed = unique("renamed")
    client.rename_experiment(exp_id, renamed)
    assert client.get_experiment(exp_id).name == renamed
    assert client.get_experiment(exp_id).tags["stage"] == "dev"

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    active = [e.name for e in client.search_experiments()]
    assert renamed not in active
    assert renamed in [e.name for e in client.search_experiments(view_type=2)]  # DELETED_ONLY
    client.restore_experiment(exp_id)
    assert renamed in [e.name for e in client.search_experiments(filter_string=f"name = '{renamed}'")]


def test_a_fluent_run_logs_params_metrics_tags_and_shows_in_the_workspace(mlflow: Any, ws: Any) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "optimizer": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "auc": 0.95})
        mlflow.set_tag("owner", "ada")
        mlflow.set_tags({"temp": "x"})
        MlflowClient().delete_tag(run.info.run_id, "temp")
        with pytest.raises(MlflowException) as changed:
            mlflow.log_param("lr", 0.2)
        assert error_code(changed.value) == "INVALID_PARAMETER_VALUE"
    run_id = run.info.run_id

    got = MlflowClient().get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    assert got.data.params == {"lr": "0.1", "depth": "3", "optimizer": "adam"}
    assert got.data.metrics == {"loss": pytest.approx(0.2), "acc": 0.9, "auc": 0.95}
    assert got.data.tags["owner"] == "ada" and "temp" not in got.data.tags
    assert got.info.artifact_uri.startswith("mlflow-artifacts:/")

    ours = ws.get_run(run_id)  # the same run, through our own client
    assert ours.status == "completed" and ours.name == "first"
    assert ours.params["lr"] == "0.1" and ours.metrics["acc"] == 0.9
    assert ours.tags["owner"] == "ada"


def test_metric_history_comes_back_whole_and_in_order(mlflow: Any) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    mlflow.set_experiment(unique("history"))
    with mlflow.start_run() as run:
        points = [Metric("curve", float(np.sin(i / 10)), 1_700_000_000_000 + i, i) for i in range(3000)]
        for start in range(0, 3000, 1000):
            client.log_batch(run.info.run_id, metrics=points[start : start + 1000])
    history = client.get_metric_history(run.info.run_id, "curve")
    assert [m.step for m in history] == list(range(3000))
    assert history[1234].value == pytest.approx(np.sin(123.4))
    assert history[5].timestamp == 1_700_000_000_005


def test_search_runs_filters_orders_and_pages_like_mlflow(mlflow: Any) -> None:
    from mlflow import MlflowClient

    name = unique("search")
    exp = mlflow.set_experiment(name)
    for i in range(5):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_param("lr", "0.1" if i % 2 else "0.01")
            mlflow.log_metric("acc", i / 10)
    frame = mlflow.search_runs(
        experiment_names=[name],
        filter_string="params.lr = '0.1' and metrics.acc > 0.05",
        order_by=["metrics.acc DESC"],
    )
    assert list(frame["tags.mlflow.runName"]) == ["r3", "r1"]
    assert list(frame["metrics.acc"]) == [0.3, 0.1]

    finished = mlflow.search_runs([exp.experiment_id], filter_string="attributes.status = 'FINISHED'")
    assert len(finished) == 5
    named = mlflow.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'r2'")
    assert list(named["tags.mlflow.runName"]) == ["r2"]

    client = MlflowClient()
    first = client.search_runs([exp.experiment_id], max_results=2, order_by=["attributes.start_time ASC"])
    second = client.search_runs(
        [exp.experiment_id], max_results=2, page_token=first.token, order_by=["attributes.start_time ASC"]
    )
    assert [r.info.run_name for r in first] == ["r0", "r1"]
    assert [r.info.run_name for r in second] == ["r2", "r3"]

    doomed = first[0].info.run_id
    client.delete_run(doomed)
    assert doomed not in set(mlflow.search_runs([exp.experiment_id])["run_id"])
    deleted = client.search_runs([exp.experiment_id], run_view_type=2)
    assert [r.info.run_id for r in deleted] == [doomed]
    client.restore_run(doomed)
    assert doomed in set(mlflow.search_runs([exp.experiment_id])["run_id"])


def test_artifacts_upload_list_and_download_through_the_proxy(mlflow: Any, ws: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    mlflow.set_experiment(unique("artifacts"))
    source = tmp_path / "report"
    (source / "plots").mkdir(parents=True)
    (source / "summary.txt").write_text("all good\n")
    (source / "plots" / "curve.csv").write_text("step,loss\n0,1.0\n")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(source), artifact_path="report")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"a": 1}, "config.json")
    client = MlflowClient()
    top = {f.path: f.is_dir for f in client.list_artifacts(run.info.run_id)}
    assert top == {"report": True, "notes": True, "config.json": False}
    inner = sorted(f.path for f in client.list_artifacts(run.info.run_id, "report"))
    assert inner == ["report/plots", "report/summary.txt"]
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="report", dst_path=str(tmp_path / "down")
        )
    )
    assert (local / "plots" / "curve.csv").read_text() == "step,loss\n0,1.0\n"
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes/hello.txt") == "hello"
    # the same bytes through our own API
    assert {"report/summary.txt", "config.json"} <= set(ws.get_run(run.info.run_id).artifacts()["path"])


def test_sklearn_autolog_logs_params_metrics_and_a_model_that_loads(mlflow: Any, ws: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment(unique("autolog"))
    mlflow.sklearn.autolog(log_input_examples=False, log_datasets=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(C=0.5).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5"
    assert "training_accuracy_score" in got.data.metrics
    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert (
        len(logged) == 1 and logged[0].status.to_proto() != 0 and logged[0].source_run_id == run.info.run_id
    )
    loaded = mlflow.sklearn.load_model(f"models:/{logged[0].model_id}")
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert any(p.endswith("/MLmodel") for p in ws.get_run(run.info.run_id).artifacts()["path"])


def test_bad_requests_get_mlflow_error_json_and_nothing_is_written(server: Any, mlflow: Any) -> None:
    mlflow.set_experiment(unique("bad"))
    with mlflow.start_run() as run:
        pass
    status, body = raw_call(
        server,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        {"run_id": run.info.run_id, "key": "m", "value": "abc", "timestamp": 1, "step": 0},
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "number" in body["message"]
    status, body = raw_call(server, "POST", "/api/2.0/mlflow/runs/log-metric", b'{"run_id": ')
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert mlflow.get_run(run.info.run_id).data.metrics == {}
    status, body = raw_call(server, "GET", "/api/2.0/mlflow/no-such/thing")
    assert (status, body["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    status, body = raw_call(server, "GET", "/api/2.0/mlflow/runs/get?run_id=" + "f" * 32)
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, _ = raw_call(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run.info.run_id}", token="")
    assert status == 403
    status, _ = raw_call(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run.info.run_id}", token="wrong")
    assert status == 403
    status, body = raw_call(
        server,
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts/1/" + "a" * 32 + "/artifacts/..%2F..%2Fetc%2Fpasswd",
    )
    assert status in (400, 404) and body["error_code"] in (
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_DOES_NOT_EXIST",
    )
    status, info = raw_call(server, "GET", "/api/3.0/mlflow/server-info")
    assert status == 200 and info["artifact_serving_enabled"] is True


def test_an_mlflow_run_silent_past_the_lease_is_not_killed(tmp_path: Path) -> None:
    """MLflow's clients send no heartbeat: a run made through the MLflow API stays RUNNING until
    its client ends it (as on MLflow's server). Seen: a run whose client spent over 30 s in one call
    was ended `killed` ("lease lapsed") and its client's end_run then refused."""
    import time

    from ..lab_server import start_lab

    short = ["--MLWorkspaceApp.lease_seconds=1", "--MLWorkspaceApp.supervise_interval=0.2"]
    server = start_lab(tmp_path / "root", tmp_path / "state", app="server", extra_args=short)
    try:
        status, body = raw_call(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0"})
        assert status == 200
        run_id = body["run"]["info"]["run_id"]
        time.sleep(3)  # fifteen sweeps, three leases
        status, body = raw_call(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
        assert body["run"]["info"]["status"] == "RUNNING"
        status, body = raw_call(server, "POST", "/api/2.0/mlflow/runs/update",
                                {"run_id": run_id, "status": "FINISHED"})
        assert status == 200 and body["run_info"]["status"] == "FINISHED"
    finally:
        server.stop()
