"""The last MLflow 2.x client, unchanged, against the workspace's MLflow API.

MLflow 2's client differs from 3's where servers break: it records models with `runs/log-model`
(no logged models), stores them under the run's artifacts, and registers `runs:/` sources. It runs
in `.venv-mlflow2` (`make test` builds it from tests/mlflow/constraints-mlflow2.txt), as a user's
script would: only `MLFLOW_TRACKING_URI` and `MLFLOW_TRACKING_TOKEN` point it at the server.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import mlflow_env

VENV = Path(__file__).resolve().parents[2] / ".venv-mlflow2"
PYTHON = VENV / "bin" / "python"

pytestmark = pytest.mark.skipif(
    not (VENV / ".installed").exists(),
    reason="the MLflow 2.x client venv .venv-mlflow2 is not built (`make test` builds it; "
    "`make .venv-mlflow2/.installed` alone)",
)

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LogisticRegression

    assert mlflow.__version__.startswith("2."), mlflow.__version__
    name = sys.argv[1]
    client = MlflowClient()

    def code_of(call):
        try:
            call()
        except MlflowException as err:
            return err.error_code
        return "no error"

    exp = client.create_experiment(name)
    assert code_of(lambda: client.create_experiment(name)) == "RESOURCE_ALREADY_EXISTS"
    assert code_of(lambda: client.get_run("0" * 32)) == "RESOURCE_DOES_NOT_EXIST"
    mlflow.set_experiment(name)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = (x[:, 1] > 0).astype(int)
    with mlflow.start_run(run_name="from-2x") as run:
        mlflow.log_param("lr", 0.1)
        for step in range(100):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.set_tag("client", "2.x")
        mlflow.log_text("hi", "notes/hi.txt")
        assert code_of(lambda: mlflow.log_param("lr", 0.5)) == "INVALID_PARAMETER_VALUE"
        model = LogisticRegression().fit(x, y)
        mlflow.sklearn.log_model(model, "model", registered_model_name=name + "-model")
    run_id = run.info.run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == list(range(100))
    found = mlflow.search_runs([exp], filter_string="params.lr = '0.1' and tags.client = '2.x'")
    assert list(found["run_id"]) == [run_id], found
    top = sorted(f.path for f in client.list_artifacts(run_id))
    assert top == ["model", "notes"], top
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hi.txt") == "hi"
    client.set_registered_model_alias(name + "-model", "champion", "1")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}-model@champion")
    assert (np.asarray(loaded.predict(x)) == model.predict(x)).all()
    client.delete_run(run_id)
    assert len(mlflow.search_runs([exp])) == 0
    client.restore_run(run_id)
    print(json.dumps({"run_id": run_id}))
    """
)


def test_the_last_2x_client_logs_searches_registers_and_loads(server: Any, ws: Any, tmp_path: Path) -> None:
    name = f"mlflow2-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "client2.py"
    script.write_text(SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **mlflow_env(server)}
    done = subprocess.run(
        [str(PYTHON), str(script), name], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    run = ws.get_run(run_id)  # the same run in the workspace, with what the 2.x client logged
    assert run.status == "completed" and run.name == "from-2x" and run.tags["client"] == "2.x"
    assert any(p.startswith("model/") and p.endswith("MLmodel") for p in run.artifacts()["path"])
    version = ws.models.get(f"{name}-model@champion")  # the registry too: the version and its alias
    assert version.version == 1 and version.source_run_id == run_id
