"""Batch endpoints end to end (issue 16): one real Jupyter server with its cluster "cpu" for the
module (tests/jobs/conftest.py), deployed and invoked as users and outside callers do.

- Over HTTP with an endpoint key and nothing else (no Jupyter token, no cookie): 201, the job runs to
  completed on the cluster and its predictions are the model's; the run names the endpoint.
- A wrong key, another endpoint's key, a key of an endpoint that does not exist: 401, nothing queued;
  a key opens no other route (403); a regenerated key replaces the old one at once.
- `ws.endpoints.deploy_batch / get_batch / list_batch / invoke / jobs / delete_batch` on a workspace
  URL: a local folder input is registered first; "name@production" follows the alias moved after
  deploy; an entry script deployed from Python is the one the server's job runs.
- The same from a folder workspace on the server's own database (the local code path), with a
  DataFrame; and `jupyter mlws batch-endpoints invoke --wait` there.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound

from .conftest import CLUSTER

pytestmark = pytest.mark.timeout(300)

API = "/mlws/api/v1"
COLUMNS = ["a", "b", "c"]
FILES, ROWS_PER_FILE = 8, 3


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(163)
    return pd.DataFrame(rng.normal(size=(FILES * ROWS_PER_FILE, 3)).round(6), columns=COLUMNS)


@pytest.fixture(scope="module")
def models(ws: Any, frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """ "lin" version 1 and 2 (other coefficients); the alias production on version 1."""
    from sklearn.linear_model import LinearRegression

    from jupyter_mlws.models.flavors import save_sklearn

    folder = tmp_path_factory.mktemp("batch-endpoint-models")
    first = LinearRegression().fit(frame, frame.a * 2 - frame.b + 0.5 * frame.c)
    second = LinearRegression().fit(frame, frame.a - 3 * frame.c + 1)
    ws.models.register("lin", save_sklearn(first, folder / "one.skops"), example=frame.head())
    ws.models.register("lin", save_sklearn(second, folder / "two.skops"), example=frame.head())
    ws.models.set_alias("lin", "production", 1)
    return first, second


def _write_rows(frame: pd.DataFrame, folder: Path) -> Path:
    """f00.csv ... f07.csv, three rows each, in the frame's order."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(FILES):
        frame.iloc[i * ROWS_PER_FILE : (i + 1) * ROWS_PER_FILE].to_csv(folder / f"f{i:02d}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def rows(ws: Any, frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return ws.data.register("rows", _write_rows(frame, tmp_path_factory.mktemp("rows")))


def _http(
    server: Any, method: str, path: str, body: Any = None, *, key: str | None = None, token: bool = False
) -> tuple[int, Any, Any]:
    """(status, JSON answer, headers) of a bare request: a bearer `key`, the Jupyter token, or neither."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if token:
        headers["Authorization"] = f"token {server.token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}{path}", method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None, response.headers
    except urllib.error.HTTPError as err:
        text = err.read()
        return err.code, json.loads(text) if text else None, err.headers


def _deploy(server: Any, body: dict[str, Any]) -> dict[str, Any]:
    status, answer, headers = _http(server, "POST", f"{API}/batch-endpoints", body, token=True)
    assert status == 201, answer
    assert headers["Cache-Control"] == "no-store" and set(answer["keys"]) == {"primary", "secondary"}
    return dict(answer)


@pytest.fixture(scope="module")
def endpoint(server: Any, models: Any, rows: Any) -> dict[str, Any]:
    """Batch endpoint "lin-batch" (lin@production on cpu, 4 files per mini-batch), deployed over REST."""
    return _deploy(
        server, {"name": "lin-batch", "model": "lin@production", "target": CLUSTER, "mini_batch_size": 4}
    )


@pytest.fixture(scope="module")
def other(server: Any, models: Any) -> dict[str, Any]:
    return _deploy(server, {"name": "other-batch", "model": "lin:2", "target": CLUSTER})


def _expected(model: Any, frame: pd.DataFrame, out: pd.DataFrame) -> np.ndarray:
    """The model's predictions for the rows of `out` (source_file, row_index), in its order."""
    at = [int(f[1:3]) * ROWS_PER_FILE + int(r) for f, r in zip(out.source_file, out.row_index, strict=True)]
    return np.asarray(model.predict(frame.iloc[at]))


def test_a_key_invokes_its_endpoint_over_http_and_the_job_scores_right(
    ws: Any, server: Any, endpoint: dict[str, Any], models: Any, frame: pd.DataFrame
) -> None:
    assert endpoint["model"] == "lin@production" and endpoint["defaults"]["mini_batch_size"] == 4
    assert endpoint["defaults"]["error_threshold"] == -1 and endpoint["last_job"] is None
    path = f"{API}/batch-endpoints/lin-batch/jobs"
    status, started, _ = _http(
        server, "POST", path, {"inputs": "data:rows", "max_retries": 1}, key=endpoint["keys"]["primary"]
    )
    assert status == 201, started
    assert started["endpoint"] == "lin-batch" and started["state"] == "queued" and "spec" not in started
    job = ws.jobs.get(started["job_id"])
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    assert len(out) == FILES * ROWS_PER_FILE and list(out.columns) == [
        "source_file",
        "row_index",
        "prediction",
    ]
    np.testing.assert_allclose(out.prediction, _expected(models[0], frame, out), rtol=1e-12)
    assert job.summary()["mini_batches"] == 2  # 8 files, 4 per mini-batch
    run = job.run
    assert run.id == started["run_id"] and run.tags["mlws.batch.endpoint"] == "lin-batch"
    assert run.tags["mlws.batch.model"] == "lin:1" and run.params["max_retries"] == "1"
    assert run.params["mini_batch_size"] == "4" and run.tags["mlws.data.data"] == "rows:1"
    assert ws.store.get_experiment(run.info.experiment_id).name == "lin-batch"
    status, shown, _ = _http(server, "GET", f"{API}/batch-endpoints/lin-batch", token=True)
    assert (
        status == 200 and shown["last_job"]["job_id"] == job.id and shown["last_job"]["state"] == "completed"
    )
    assert "keys" not in shown and "key_hashes" not in shown
    status, listed, _ = _http(server, "GET", path, token=True)
    assert status == 200 and [j["job_id"] for j in listed["jobs"]] == [job.id]


def test_wrong_keys_are_refused_and_a_key_opens_no_other_route(
    ws: Any, server: Any, endpoint: dict[str, Any], other: dict[str, Any]
) -> None:
    jobs_before = len(ws.store.list_jobs())
    path = f"{API}/batch-endpoints/lin-batch/jobs"
    body = {"inputs": "data:rows"}
    for key in (
        "not-a-key",
        other["keys"]["primary"],
        other["keys"]["secondary"],
        endpoint["keys"]["primary"] + "x",
    ):
        status, answer, headers = _http(server, "POST", path, body, key=key)
        assert status == 401 and answer["error"] == "unauthorized", (key[:4], status, answer)
        assert headers["WWW-Authenticate"].startswith("Bearer")
    mine = endpoint["keys"]["primary"]
    status, _, _ = _http(server, "POST", f"{API}/batch-endpoints/other-batch/jobs", body, key=mine)
    assert status == 401
    status, _, _ = _http(server, "POST", f"{API}/batch-endpoints/no-such-batch/jobs", body, key=mine)
    assert status == 401, "a key cannot tell which endpoints exist"
    assert _http(server, "POST", path, body)[0] == 403, "no credentials at all"
    elsewhere = [
        ("GET", f"{API}/batch-endpoints"),
        ("GET", f"{API}/batch-endpoints/lin-batch"),
        ("PATCH", f"{API}/batch-endpoints/lin-batch"),
        ("DELETE", f"{API}/batch-endpoints/lin-batch"),
        ("POST", f"{API}/batch-endpoints/lin-batch/keys/primary"),
        ("GET", path),
        ("GET", f"{API}/jobs"),
        ("GET", f"{API}/runs"),
        ("GET", f"{API}/info"),
    ]
    for method, where in elsewhere:
        status, _, _ = _http(server, method, where, {} if method in ("PATCH", "POST") else None, key=mine)
        assert status == 403, f"{method} {where} answered {status} to an endpoint key"
    assert len(ws.store.list_jobs()) == jobs_before, "nothing was queued"
    assert ws.endpoints.get_batch("lin-batch").record.target == CLUSTER

    # a good key passes: an unknown asset is then a 404, a path on the server's disk a 400
    status, answer, _ = _http(
        server, "POST", path, {"inputs": "data:no-such-rows"}, key=endpoint["keys"]["secondary"]
    )
    assert status == 404, answer
    status, answer, _ = _http(server, "POST", path, {"inputs": str(server.root_dir)}, key=mine)
    assert status == 400 and "data asset" in answer["message"]
    status, answer, _ = _http(server, "POST", path, {"inputs": "data:rows", "mini_batch_size": 0}, key=mine)
    assert status == 400
    assert len(ws.store.list_jobs()) == jobs_before

    # a regenerated key replaces the old one at once
    status, answer, _ = _http(server, "POST", f"{API}/batch-endpoints/other-batch/keys/primary", token=True)
    assert status == 200 and answer["key"] != other["keys"]["primary"]
    other_path = f"{API}/batch-endpoints/other-batch/jobs"
    assert _http(server, "POST", other_path, {"inputs": "data:none"}, key=other["keys"]["primary"])[0] == 401
    assert _http(server, "POST", other_path, {"inputs": "data:none"}, key=answer["key"])[0] == 404


SCRIPT = """\
import os
import pandas as pd

def init():
    global label
    label = "scripted"

def run(mini_batch):
    return pd.DataFrame([{"file": os.path.basename(p), "rows": len(pd.read_csv(p)), "by": label}
                         for p in mini_batch])
"""


def test_the_python_client_on_a_workspace_url(
    ws: Any, server: Any, models: Any, rows: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    ep = ws.endpoints.deploy_batch(
        "lin-py", "lin@production", target=CLUSTER, mini_batch_size=3, tags={"t": "1"}
    )
    assert ep.keys.primary and ep.keys.secondary and "hidden" in repr(ep.keys)
    assert ep.defaults["mini_batch_size"] == 3 and ep.record.key_hashes == {}
    again = ws.endpoints.deploy_batch("lin-py", error_threshold=2)
    assert again.keys.primary is None and again.defaults["error_threshold"] == 2
    assert again.defaults["mini_batch_size"] == 3, "what was not given stays"
    assert ws.endpoints.get_batch("lin-py").keys.primary is None
    listed = ws.endpoints.list_batch().set_index("name")
    assert listed.loc["lin-py", "model"] == "lin@production" and listed.loc["lin-py", "error_threshold"] == 2
    with pytest.raises(NotFound):
        ws.endpoints.deploy_batch("typo-py", "no-such-model", target=CLUSTER)
    with pytest.raises(NotFound, match="Unknown target"):
        ws.endpoints.deploy_batch("typo-py", "lin", target="no-such-cluster")
    with pytest.raises(InvalidParameter, match="mini_batch_size"):
        ws.endpoints.deploy_batch("typo-py", "lin", target=CLUSTER, mini_batch_size=0)
    with pytest.raises(NotFound):
        ws.endpoints.get_batch("typo-py")

    ws.models.set_alias("lin", "production", 2)  # the endpoint follows the alias at invoke
    try:
        job = ep.invoke(_write_rows(frame, tmp_path / "local-rows"), mini_batch_size=8)
    finally:
        ws.models.set_alias("lin", "production", 1)
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    np.testing.assert_allclose(out.prediction, _expected(models[1], frame, out), rtol=1e-12)
    assert job.summary()["mini_batches"] == 1 and job.run.tags["mlws.batch.model"] == "lin:2"
    assert job.run.tags["mlws.data.data"].startswith("lin-py-input:")
    assert list(ep.jobs().job_id) == [job.id]
    with pytest.raises(InvalidParameter, match="DataFrame"):
        ep.invoke(frame)

    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    scripted = ws.endpoints.deploy_batch(
        "scripted-py", target=CLUSTER, entry_script=script, mini_batch_size=5
    )
    assert scripted.record.model is None and scripted.record.entry_script == "score.py"
    status, started, _ = _http(
        server,
        "POST",
        f"{API}/batch-endpoints/scripted-py/jobs",
        {"inputs": "data:rows:1"},
        key=scripted.keys.primary,
    )
    assert status == 201, started
    job = ws.jobs.get(started["job_id"])
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    assert sorted(out.file) == [f"f{i:02d}.csv" for i in range(FILES)]
    assert set(out["rows"]) == {ROWS_PER_FILE} and set(out.by) == {"scripted"}

    key = ws.endpoints.regenerate_batch_key("lin-py", "secondary")
    assert key != ep.keys.secondary
    ws.endpoints.delete_batch("lin-py")
    with pytest.raises(NotFound):
        ws.endpoints.get_batch("lin-py")
    assert ws.jobs.get(job.id).status == "completed", "a deleted endpoint's jobs stay"
    assert "lin-py" not in set(ws.endpoints.list_batch().name)


def test_a_folder_workspace_on_the_servers_database_invokes_through_the_same_path(
    server: Any, models: Any, rows: Any, frame: pd.DataFrame, capsys: Any
) -> None:
    import jupyter_mlws as mlws
    from jupyter_mlws.cli import main

    folder = server.api(f"{API}/info")["workspace"]
    local = mlws.Workspace(folder)
    try:
        ep = local.endpoints.deploy_batch("lin-local", "lin:1", target=CLUSTER, mini_batch_size=10)
        assert ep.keys.primary and len(ep.record.key_hashes) == 2
        job = ep.invoke(frame, output_file="scores.csv")  # the server's dispatcher takes it
        job.wait(180)
        assert job.status == "completed", job.reason
        out = job.predictions()
        assert list(out.row_index) == list(range(len(frame)))
        np.testing.assert_allclose(out.prediction, models[0].predict(frame), rtol=1e-12)
        assert job.summary()["output"] == "outputs/scores.csv" and job.summary()["mini_batches"] == 3
        assert list(ep.jobs().job_id) == [job.id]
        status, shown, _ = _http(server, "GET", f"{API}/batch-endpoints/lin-local", token=True)
        assert (
            status == 200
            and shown["last_job"]["job_id"] == job.id
            and shown["last_job"]["state"] == "completed"
        )

        assert main(["-w", folder, "batch-endpoints", "invoke", "lin-local", "data:rows", "--wait"]) == 0
        printed = capsys.readouterr()
        assert "of batch endpoint lin-local queued on cpu" in printed.out and " completed" in printed.err
        newest = local.endpoints.get_batch("lin-local").job_records()
        assert len(newest) == 2 and newest[1].job_id == job.id and newest[0].state == "completed"
    finally:
        local.close()
