"""Every notebook in examples/ runs top to bottom in a real kernel (so none of them rots)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ..conftest import REPO
from ..lab_server import start_lab

NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


def test_there_are_examples() -> None:
    assert NOTEBOOKS, "examples/ has no notebooks"


def state_of(nb: nbformat.NotebookNode) -> dict:
    """The widget models a notebook was saved with (nbclient's store_widget_state)."""
    return dict(nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_example_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "demo"
    work.mkdir()
    shutil.copy(path, work / path.name)
    monkeypatch.setenv("MLWS_WORKSPACE", str(work / ".mlws"))
    # Compute instances write kernelspecs into the Jupyter data dir: one of its own per notebook.
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    nb = nbformat.read(work / path.name, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(work)}},
        store_widget_state=True,
    )
    server = None
    if nb.metadata.get("mlws", {}).get("needs_server"):
        # as `make lab` runs it: a Jupyter server on the demo folder, whose kernels get its MLflow API
        server = start_lab(work, tmp_path / "server-state", app="server")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{server.url}/mlws/mlflow")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server.token)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # the registry is the tracking server
    try:
        client.execute(env={**os.environ})
    finally:
        if server is not None:
            server.stop()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        if "raises-exception" not in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors
    text = "".join(
        out.get("text", "") + out.get("data", {}).get("text/plain", "")
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    # kernels we start print nothing of their own into cells (ipykernel's plain-TCP warning
    # reached example 05's cells from the instance kernel it starts)
    assert "without encryption" not in text and "[IPKernelApp]" not in text
    if path.name == "01-workspace.ipynb":
        assert str(work / ".mlws") in text
    if path.name == "02-tracking.ipynb":
        from jupyter_mlws import Workspace

        found = Workspace(work / ".mlws").runs(experiment="quickstart")
        assert sorted(found["name"]) == ["lr=0.01", "lr=0.1"]
        assert set(found["status"]) == {"completed"}
        assert "notes.txt" in text and "config.json" in text
    if path.name == "12-diff-and-replay.ipynb":
        from jupyter_mlws import Workspace

        found = Workspace(work / ".mlws").runs(experiment="repro-demo")
        verdicts = dict(zip(found["name"], found["tags.mlws.replay.verdict"], strict=True))
        assert verdicts["replay of seeded"] == "reproduced" and verdicts["replay of unseeded"] == "diverged"
        assert "uses randomness without a seed: np.random.rand" in text
    if path.name == "03-notebook-runs.ipynb":
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        found = ws.runs(experiment="notebook-demo")
        assert dict(zip(found["name"], found["status"])) == {"baseline": "completed", "broken": "failed"}
        assert "completed 0.91 logistic" in text and "failed True" in text
        assert "trained a logistic model" in text
        # Every code cell after the one that loads the extension (nbclient sets no $JPY_SESSION_NAME).
        assert len(ws.executions()) == sum(c.cell_type == "code" for c in nb.cells) - 1
    if path.name == "04-widgets.ipynb":
        assert "('sgd lr=0.1', 'loss', 100)" in text and "('adam lr=0.01', 'accuracy', 100)" in text
        assert "<MetricChart loss, accuracy: 3 runs, 600 points>" in text
        shown_run = next(c for c in nb.cells if c.cell_type == "code" and c.source == "runs[0]")
        widget_mime = "application/vnd.jupyter.widget-view+json"
        assert widget_mime in shown_run.outputs[0]["data"], "a Run shows RunDetails"
        assert "['sgd lr=0.1', 'adam lr=0.05', 'adam lr=0.01']" in text
        diff = (
            "[{'param': 'lr', 'values': ['0.1', '0.05']}, "
            "{'param': 'optimizer', 'values': ['sgd', 'adam']}]"
        )
        assert diff in text
        assert "Bad filter" in text
        # the bad filter is on a widget of its own: the history keeps showing its runs
        histories = [m["state"] for m in state_of(nb).values() if m["state"].get("experiment") == "widgets-demo"
                     and "rows" in m["state"]]
        assert sorted(len(h["rows"]) for h in histories) == [0, 3]
        assert [h["error"][:10] for h in histories if not h["rows"]] == ["Bad filter"]
        # Saved with widget state: the chart's series are in the notebook, not only in the kernel.
        state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        charts = [m["state"] for m in state.values() if m["state"].get("metrics") == ["loss", "accuracy"]]
        series = [c["series"] for c in charts]
        assert series and len(series[0]) == 6 and len(series[0][0]["y"]) == 100
        # The chart options are widget state too: a reopened notebook draws with them.
        assert "['optimizer = adam', 'optimizer = sgd'] 0.6 True" in text
        grouped = [m["state"] for m in state.values() if m["state"].get("group_by") == "params.optimizer"]
        assert grouped and (grouped[0]["x"], grouped[0]["smoothing"], grouped[0]["log_y"]) == ("relative_time", 0.6, True)
    if path.name == "05-compute-instances.ipynb":
        assert "cpu-small (1 CPU, 768 MiB) | mlws-instance" in text
        assert "CPUs 1 | OMP_NUM_THREADS 1 | on cpu-small | STAGE demo" in text
        assert "completed cpu-small 20" in text
        assert "compute instance 'cpu-small' has a memory limit of 768 MiB" in text
        assert "kernel alive: False" in text
        assert "killed | memory limit exceeded: RSS " in text and "> 768 MiB limit of compute instance cpu-small" in text
        assert "limit_stopped" in text
        # the demo keeps its instance (the clean-up cell is optional and off)
        assert text.rstrip().endswith("['cpu-small']")
        from jupyter_mlws import Workspace

        assert list(Workspace(work / ".mlws").compute.instances()["name"]) == ["cpu-small"]
    if path.name == "06-models-and-endpoints.ipynb":
        assert "iris:1 sklearn True True" in text  # lineage to the run; same files, same digest
        assert "[('sepal length (cm)', 'double'), ('sepal width (cm)', 'double')]" in text
        assert "1 2\nTrue" in text  # alias and latest; loaded predictions equal the model's
        assert "refused: UntrustedModel" in text and "trusted, loads: True" in text
        assert "[0, 0, 0]" in text and "'deployment': 'blue', 'version': 1" in text
        assert "without a key: 401" in text
        assert "2 True True" in text  # the alias move redeployed version 2; requests counted
        # the demo keeps a model and a running endpoint (the clean-up cell is optional and off)
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        assert "iris" in set(ws.models.list()["name"])
        assert [(e.name, e.state) for e in ws.store.list_endpoints()] == [("iris-api", "running")]
    if path.name == "07-log-from-anywhere.ipynb":
        assert "logged run" in text and "from-a-script  completed" in text
        assert "could not reach" in text and "jupyter mlws sync" in text  # the script's one line
        assert "1 run ending sent" in text and "completed 3000 points" in text
        assert "token" not in text.split("workspace URL:")[-1].split("\n")[0]
        from jupyter_mlws import Workspace

        found = Workspace(work / ".mlws").runs(experiment="remote")
        assert sorted(found["name"]) == ["from-a-script", "through-an-outage"]
        assert set(found["status"]) == {"completed"}
    if path.name == "08-clusters-and-jobs.ipynb":
        assert "200 points, stage demo" in text and "epoch  99  loss" in text  # streamed from the node
        assert "completed {'args.data': '${{inputs.data}}', 'args.lr': '0.02'}" in text
        assert "after 100 epochs" in text and "'outputs/model.json'" in text
        assert "function: (3.0, " in text
        assert "notebook: completed" in text and "{'prediction_at_10': 32.0}" in text
        assert "'outputs/predict.ipynb'" in text
        assert "waiting  canceled  canceled before it started" in text
        assert "long-0   canceled  canceled" in text
        assert "canceled | timeout after 2 s" in text
        # a data asset: registered from a folder, unchanged files give the same version back; a job
        # reads it as an input (the version materialized on the node) and the version knows its reader
        assert "points:1 4 files, " in text and "registered again, unchanged: points:1" in text
        parts = ", ".join(f"'part-{i}.csv'" for i in range(4))
        assert f"completed | 4 files, 200 rows: [{parts}]" in text
        # the demo keeps its cluster definition (the clean-up cell is optional and off)
        assert text.rstrip().endswith("['cpu']")
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        readers = ws.data.runs("points:1")
        assert list(readers["name"]) == ["count-rows"]
        assert list(readers["tags.mlws.data.rows"]) == ["points:1"]
        jobs = ws.jobs.list()
        assert dict(zip(jobs["name"], jobs["state"], strict=True)) == {
            "train.py": "completed",
            "least_squares": "completed",
            "predict.ipynb": "completed",
            "count-rows": "completed",
            "long-0": "canceled",
            "long-1": "canceled",
            "waiting": "canceled",
            "too-slow": "canceled",
        }
    if path.name == "09-batch-scoring.ipynb":
        # nine files, one cut off: three mini-batches of three files on the cluster; every row of the
        # eight readable files exactly once, as the model in memory scores them; the cut-off file named
        assert "diabetes:1 ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6']" in text
        assert "diabetes-visits:1 9 files" in text
        assert "completed | batch: 3 mini-batches of up to 3 files" in text
        assert "442 rows from 8 files\nthe model's own answers: True" in text
        assert "'mlws.batch.model': 'diabetes:1', 'mlws.data.data': 'diabetes-visits:1'" in text
        assert "'outputs/failures.csv', 'outputs/predictions.csv'" in text
        # past error_threshold=0 the job fails naming the file, and its output is marked partial
        assert "failed | 1 items failed, more than error_threshold=0: visits-8.csv: ParserError" in text
        assert "outputs/predictions.partial.csv" in text
        assert "4 mini-batches, 100 rows, the model's own answers: True" in text
        assert text.rstrip().endswith("['cpu']")
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        jobs = ws.jobs.list()  # newest first
        assert list(jobs["kind"]) == ["batch"] * 3
        assert list(jobs["state"]) == ["completed", "failed", "completed"]
        files_job = ws.jobs.get(jobs["job_id"].iloc[-1])
        failures = files_job.failures()[["mini_batch", "item", "count"]]
        assert failures.values.tolist() == [[2, "visits-8.csv", 1]]
        assert files_job.predictions().source_file.value_counts().to_dict() == {
            **{f"visits-{i}.csv": 56 for i in range(7)}, "visits-7.csv": 50
        }
        assert sorted(ws.data.runs("diabetes-visits:1")["status"]) == ["completed", "failed"]
    if path.name == "11-sweeps.ipynb":
        # a Bayesian sweep of 10 trials (some may be stopped by the Bandit policy), the best run
        # named on the sweep's run and registered with lineage; a 3 x 2 grid: six trials, each point once
        assert "completed | 10 trials" in text and "names the best run: True" in text
        assert "diabetes-sgd:1 from the best run: True" in text
        assert "completed | 6 trials" in text
        assert text.rstrip().endswith("['cpu']")
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        jobs = ws.jobs.list()
        sweeps = jobs[jobs["kind"] == "sweep"]
        assert list(sweeps["state"]) == ["completed", "completed"]
        grid = ws.jobs.get_sweep(sweeps["job_id"].iloc[0]).trials()
        assert sorted(zip(grid["params.alpha"], grid["params.eta0"], strict=True)) == sorted(
            (a, e) for a in (1e-4, 1e-2, 1.0) for e in (0.001, 0.01)
        )
        bayes = ws.jobs.get_sweep(sweeps["job_id"].iloc[1]).trials()
        stopped = bayes[bayes["status"] == "canceled"]
        assert all(r.startswith("early termination: bandit slack 0.1 at step ") for r in stopped["reason"])
    if path.name == "10-mlflow-code.ipynb":
        # plain MLflow code, autolog and the registry, logged into the server's workspace
        assert "True True" in text
        assert "['C=0.1', 'C=1.0'] ['completed']" in text
        assert "['C', 'max_iter']" in text and "same predictions: True" in text
        assert "1 True mlflow" in text and "ours too: True" in text  # lineage; loads untrusted (skops)
        assert "cell-with-mlflow {'source': 'cell'}" in text
        from jupyter_mlws import Workspace

        ws = Workspace(work / ".mlws")
        found = ws.runs(experiment="mlflow-demo")
        assert {"C=0.1", "C=1.0", "autolog", "registered", "cell-with-mlflow", "inner"} <= set(found["name"])
