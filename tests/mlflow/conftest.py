"""Shared pieces of the MLflow API tests: one real Jupyter server (its own process) under a base
URL prefix, and the stock `mlflow` client pointed at it through MLflow's own environment variables.

The client is the real `mlflow` package (the latest 3.x in the test venv; the last 2.x runs in a
venv of its own, `tests/mlflow/test_mlflow2.py`). Retries are off (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`)
so an error answer shows at once instead of after MLflow's back-off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..lab_server import LabServer, start_lab

#: A base URL as JupyterHub gives one: the API must work under any prefix.
BASE_URL = "/user/ada/"


def tracking_uri(server: LabServer) -> str:
    return f"{server.url}/mlws/mlflow"


def mlflow_env(server: LabServer) -> dict[str, str]:
    """What a user exports to point MLflow code at the workspace."""
    return {
        "MLFLOW_TRACKING_URI": tracking_uri(server),
        "MLFLOW_TRACKING_TOKEN": server.token,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("mlflow-server")
    lab = start_lab(base / "root", base / "state", app="server", base_url=BASE_URL)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def mlflow(server: LabServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The `mlflow` module, pointed at the server as a user would (environment variables)."""
    import mlflow as mlflow_module

    for name, value in mlflow_env(server).items():
        monkeypatch.setenv(name, value)
    # MLflow's set_*_uri write these into os.environ, where later tests' kernels would inherit a
    # server that is gone: monkeypatch puts them back as they were after the test
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    mlflow_module.set_tracking_uri(tracking_uri(server))
    mlflow_module.set_registry_uri(tracking_uri(server))
    while mlflow_module.active_run() is not None:
        mlflow_module.end_run()
    yield mlflow_module
    while mlflow_module.active_run() is not None:
        mlflow_module.end_run()


@pytest.fixture
def ws(server: LabServer) -> Any:
    """The same workspace through our own client: what MLflow wrote must be there."""
    import jupyter_mlws as mlws

    return mlws.Workspace(server.url, token=server.token)
