"""A workspace by URL (issue 14): the whole public API from another process, through a real
jupyter_server on 127.0.0.1 (its own process), as a newcomer on a second machine uses it.

One server for the module; each test makes its own experiments and names.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_server import LabServer, start_lab


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("remote")
    lab = start_lab(base / "root", base / "state", app="server")
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test process's caches (models, spool) in a temp folder, no workspace variables."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    monkeypatch.delenv("MLWS_TOKEN", raising=False)
    return tmp_path


def _only_the_two_variables(url: str, token: str, home: Path) -> dict[str, str]:
    """What a newcomer's second machine has: a PATH, a HOME, and the URL and token."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "MLWS_WORKSPACE": url,
        "MLWS_TOKEN": token,
    }


EXAMPLE = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd
    import jupyter_mlws as mlws
    from jupyter_mlws.models import save_sklearn
    from sklearn.linear_model import LinearRegression

    ws = mlws.Workspace()
    exp = ws.experiment("churn")
    with mlws.start_run(experiment="churn", name="baseline", tags={"team": "a"}) as run:
        mlws.log_param("lr", 0.01); mlws.log_params({"depth": 3})
        for step in range(500):
            mlws.log_metric("loss", 1 / (step + 1), step=step)
        mlws.log_metrics({"acc": 0.9}, step=1)
        mlws.set_tag("stage", "dev")
        open("notes.md", "w").write("# notes\\n")
        mlws.log_artifact("notes.md"); mlws.log_text("plain text", "notes.txt")
        mlws.log_dict({"layers": [64, 32]}, "config.json")
        mlws.log_table(pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}), "predictions")
        import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
        fig = plt.figure(); plt.plot([1, 2, 3]); mlws.log_figure(fig, "roc.png")
        X = pd.DataFrame({"x1": np.arange(20.0), "x2": np.arange(20.0) ** 0.5}); y = 3 * X.x1 - X.x2
        model = LinearRegression().fit(X, y)
        save_sklearn(model, "model.skops")
    out = {"run_id": run.id, "status": run.status, "params": run.params, "metrics": run.metrics}
    out["history"] = len(run.metric_history("loss", max_points=2000))
    found = ws.runs(experiment="churn", filter="metrics.loss < 0.5 and params.lr = '0.01'",
                    order_by=["metrics.loss asc"], limit=1000)
    out["found"] = found["run_id"].tolist()
    out["columns"] = sorted(found.columns)
    out["get_run"] = ws.get_run(run.id).name
    out["artifacts"] = run.artifacts()["path"].tolist()
    out["downloaded"] = open(run.download_artifacts("notes.txt", dest="downloaded")).read()
    out["logs"] = run.logs()
    out["executions"] = list(ws.executions().columns)
    mv = ws.models.register("churn", path="model.skops", run=run, example=X.head())
    ws.models.set_alias("churn", "production", mv.version)
    out["model"] = [mv.version, ws.models.get("churn@production").version, mv.source_run_id]
    predictor = ws.models.load("churn@production")
    out["predict_matches"] = bool(np.array_equal(predictor.predict(X.head(5)), model.predict(X.head(5))))
    ep = ws.endpoints.deploy("churn-api", model="churn@production", replicas=1)
    # allclose, not equal: this process (its environment stripped to two variables) and the replica
    # (the server's environment) may run BLAS with other thread counts, which sum in another order;
    # the bit-for-bit promise for one configuration is tested in tests/serving/.
    scored, expected = ep.score(X.head(5)), model.predict(X.head(5))
    out["score_matches"] = bool(np.allclose(scored, expected, rtol=1e-12, atol=0))
    out["endpoints"] = ws.endpoints.list()["name"].tolist()
    out["endpoint_logs"] = "serving churn-api" in ep.logs()
    ws.compute.create_instance("cpu-small", cpus=1, memory="2GiB", gpus=0, idle_shutdown_minutes=60)
    out["instances"] = ws.compute.instances()["name"].tolist()
    ws.compute.delete_instance("cpu-small")
    ws.endpoints.delete("churn-api")
    out["repr"] = [repr(ws), repr(ws.store), repr(ws.store.http), repr(ep.keys)]
    print(json.dumps(out))
    """
)


def test_a_process_with_only_the_url_and_token_runs_the_whole_example(
    server: LabServer, tmp_path: Path
) -> None:
    script = tmp_path / "example.py"
    script.write_text(EXAMPLE)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_only_the_two_variables(server.url + "/", server.token, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "completed"
    assert out["params"] == {"lr": "0.01", "depth": "3"}
    assert out["metrics"]["loss"] == pytest.approx(1 / 500) and out["metrics"]["acc"] == 0.9
    assert out["history"] == 500
    assert out["found"] == [out["run_id"]]
    assert {"params.lr", "metrics.loss", "tags.team", "duration"} <= set(out["columns"])
    assert out["get_run"] == "baseline"
    assert {"notes.md", "notes.txt", "config.json", "predictions.parquet", "roc.png"} <= set(out["artifacts"])
    assert out["downloaded"] == "plain text"
    assert out["model"][0] == out["model"][1] and out["model"][2] == out["run_id"]
    assert out["predict_matches"] and out["score_matches"]
    assert out["endpoints"] == ["churn-api"] and out["endpoint_logs"]
    assert out["instances"] == ["cpu-small"]
    assert "start_time" in out["executions"]
    # The token is nowhere: not in reprs, not on stdout or stderr.
    assert not any(server.token in text for text in out["repr"])
    assert server.token not in done.stdout and server.token not in done.stderr
    # What the other process wrote is the server's: read back here, in the server's own folder.
    from jupyter_mlws import Workspace

    local = Workspace(server.root_dir / ".mlws")
    run = local.get_run(out["run_id"])
    assert run.metric_history("loss").shape[0] == 500
    assert local.models.get("churn@production").source_run_id == out["run_id"]


def test_a_jupyterhub_style_prefix_and_a_pasted_lab_link(tmp_path: Path, client_env: Path) -> None:
    from jupyter_mlws import Workspace

    hub = start_lab(tmp_path / "root", tmp_path / "state", app="server", base_url="/user/alice/")
    try:
        # What the browser's address bar shows, pasted as it is: base URL and token both taken from it.
        ws = Workspace(f"{hub.url}/lab/tree/train.ipynb?token={hub.token}")
        assert repr(ws) == f"<Workspace {hub.url}>" and hub.token not in repr(ws)
        with ws.start_run(experiment="hub", name="alice") as run:
            run.log_metric("loss", 0.5, step=0)
            run.log_text("hello", "hello.txt")
        assert Workspace(hub.url + "/", token=hub.token).get_run(run.id).metrics == {"loss": 0.5}
        assert (hub.root_dir / ".mlws" / "mlws.db").exists()
    finally:
        hub.stop()


class _NotJupyter(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>nothing here</html>")

    def log_message(self, *args: object) -> None:
        pass


def test_bad_urls_and_tokens_say_what_is_wrong_at_once(server: LabServer, client_env: Path) -> None:
    from jupyter_mlws import Workspace
    from jupyter_mlws.errors import Forbidden, NotFound, Unavailable

    started = time.monotonic()
    with pytest.raises(Forbidden, match="needs a token") as no_token:
        Workspace(server.url)
    assert server.url in no_token.value.message
    with pytest.raises(Forbidden, match="refused the token") as wrong:
        Workspace(server.url, token="not-the-token")
    assert server.url in wrong.value.message and "not-the-token" not in wrong.value.message
    assert time.monotonic() - started < 10, "a refused token is said at once, not after retries"
    # What only the server does is refused by name, clearly.
    ws = Workspace(server.url, token=server.token)
    with pytest.raises(Forbidden, match="record_compute_event is not available on a workspace URL"):
        ws.store.record_compute_event("cpu-small", "started")

    plain = http.server.HTTPServer(("127.0.0.1", 0), _NotJupyter)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NotFound, match="not a jupyter_mlws workspace server"):
            Workspace(f"http://127.0.0.1:{plain.server_port}/", token="x")
    finally:
        plain.shutdown()

    from jupyter_mlws.store.rest_connect import connect

    # A plain http:// URL to another host: warned that the token travels in clear (TEST-NET-1,
    # never reachable, so the check then says it could not reach it).
    with warnings.catch_warnings(record=True) as seen, pytest.raises(Unavailable, match="Could not reach"):
        warnings.simplefilter("always")
        connect("http://192.0.2.1:9/", token="t", check_seconds=0, durable=False).close()
    assert any("travels in clear" in str(w.message) for w in seen)


def test_models_load_through_the_gate_after_a_verified_download(server: LabServer, client_env: Path) -> None:
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    from jupyter_mlws import Workspace
    from jupyter_mlws.models import save_sklearn
    from jupyter_mlws.models.files import ModelIntegrityError

    ws = Workspace(server.url, token=server.token)
    import pandas as pd

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    folder = client_env / "tree"
    folder.mkdir()
    model = DecisionTreeClassifier(max_depth=3).fit(X, y)
    save_sklearn(model, folder / "model.skops")
    (folder / "README.md").write_text("a tree\n")
    mv = ws.models.register("remote-tree", path=folder, trusted_types=["sklearn.tree._tree.Tree"])
    assert {f.path for f in mv.files} == {"model.skops", "README.md"}
    loaded = ws.models.load(f"remote-tree:{mv.version}")
    assert (loaded.predict(X) == model.predict(X)).all()
    # A blob changed on the server's disk: the download is re-hashed and refused (fail closed).
    blob = next((server.root_dir / ".mlws" / "artifacts" / "blobs").glob(f"*/{mv.files[0].sha256}"))
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        for cached in (client_env / "cache").rglob("models-cache/*"):
            if cached.is_dir():
                import shutil

                shutil.rmtree(cached)
        with pytest.raises(ModelIntegrityError):
            ws.models.load(f"remote-tree:{mv.version}")
    finally:
        blob.write_bytes(original)


def test_a_large_artifact_streams_both_ways_without_being_held(server: LabServer, client_env: Path) -> None:
    from jupyter_mlws import Workspace

    ws = Workspace(server.url, token=server.token)
    big = client_env / "big.bin"
    with open(big, "wb") as out:
        for _ in range(48):
            out.write(os.urandom(1024 * 1024))
    with ws.start_run(experiment="big", name="blob") as run:
        tracemalloc.start()
        try:
            run.log_artifact(big)
            _, peak_up = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            back = run.download_artifacts("big.bin", dest=client_env / "back")
            _, peak_down = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert back.read_bytes() == big.read_bytes()
    assert peak_up < 16 * 1024 * 1024 and peak_down < 16 * 1024 * 1024, (peak_up, peak_down)


def test_a_mlrun_cell_in_a_kernel_whose_workspace_is_a_url(server: LabServer, client_env: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    from jupyter_mlws import Workspace

    env = {**os.environ, "MLWS_WORKSPACE": server.url, "MLWS_TOKEN": server.token}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(client_env))
    try:

        def run(code: str) -> str:
            msg_id = client.execute(code)
            texts = []
            while True:
                msg = client.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    texts.append(msg["content"]["text"])
                if msg["msg_type"] == "error":
                    texts.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(texts)

        (client_env / "helper.py").write_text("SCALE = 2\n")
        assert "ERROR" not in run("%load_ext jupyter_mlws")
        out = run(
            "%%mlrun -e remote-cells -n cell1\nimport jupyter_mlws as mlws\nfrom helper import SCALE\n"
            "for i in range(20): mlws.log_metric('x', i * SCALE, step=i)\nprint('from the cell')"
        )
        assert "from the cell" in out and "ERROR" not in out
        ws = Workspace(server.url, token=server.token)
        deadline = time.monotonic() + 30
        while True:  # the cell's run ends on the kernel's background thread, just after the cell
            found = ws.runs(experiment="remote-cells")
            if (len(found) and found["status"].iloc[0] == "completed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        manager.shutdown_kernel(now=True)
    run_ = ws.get_run(found["run_id"].iloc[0])
    assert run_.status == "completed" and run_.metrics["x"] == 38.0  # (+ the server's system/* samples)
    assert "from the cell" in run_.logs()
    assert "helper.py" in set(run_.snapshot()["path"])


def test_a_training_cluster_by_url_is_plain_dask(server: LabServer, client_env: Path) -> None:
    """Issue 15 (clusters): define a cluster through a workspace URL, start it, use it with Dask."""
    from jupyter_mlws import Workspace
    from jupyter_mlws.errors import InvalidParameter

    ws = Workspace(server.url, token=server.token)
    ws.compute.create_cluster(
        "remote-cpu",
        min_nodes=0,
        max_nodes=1,
        node={"cpus": 1, "memory": "1GiB"},
        idle_seconds_before_scaledown=5,
    )
    with pytest.raises(InvalidParameter, match="min_nodes \\(2\\) is more than max_nodes \\(1\\)"):
        ws.compute.update_cluster("remote-cpu", min_nodes=2)
    client = ws.compute.dask_client("remote-cpu")  # starts it through the server
    try:
        assert client.submit(lambda x: x * 2, 21).result(timeout=60) == 42
        table = ws.compute.clusters().set_index("name")
        assert table.loc["remote-cpu", "state"] == "running"
        assert table.loc["remote-cpu", "node"] == "1 CPU, 1 GiB, 0 GPU"
    finally:
        client.close()
    ws.compute.delete_cluster("remote-cpu")
    assert ws.compute.clusters().empty
    kinds = ws.compute.events("remote-cpu")["kind"].tolist()
    assert {"created", "cluster_started", "cluster_stopped", "deleted"} <= set(kinds)


def test_data_assets_through_the_workspace_url(server: LabServer, client_env: Path) -> None:
    """Blobs go up first, then the manifest; the server checks both; another machine reads it back."""
    from jupyter_mlws import Workspace

    folder = client_env / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "b.csv").write_text("x\n2\n")
    ws = Workspace(server.url, token=server.token)
    first = ws.data.register("remote-data", path=folder / "*.csv")
    assert first.version == 1 and ws.data.register("remote-data", path=folder).version == 1
    (folder / "b.csv").write_text("x\n3\n")
    second = ws.data.register("remote-data", path=folder)
    assert second.version == 2 and ws.data.get("remote-data@latest").sha256 == second.sha256
    assert (ws.data.path("remote-data:1") / "b.csv").read_text() == "x\n2\n"
    local = Workspace(server.root_dir / ".mlws")
    assert [v.version for v in local.store.list_data_versions("remote-data")] == [1, 2]
