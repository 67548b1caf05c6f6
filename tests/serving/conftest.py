"""Serving fixtures: a real workspace, a registered skops model, an endpoint manager and
real replica processes on 127.0.0.1. Every fixture that can start replicas stops its
manager and then kills, by PID, any replica process still serving a config of its workspace.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mlws.serving import procs

COLUMNS = ["a", "b", "c", "d"]


def kill_replicas(workspace: str) -> None:
    """SIGKILL every replica process whose config lives under this workspace (by PID)."""
    for proc in procs.stale_replicas(procs.serving_dir(workspace), keep=set()):
        try:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except Exception:
            pass


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, len(COLUMNS))), columns=COLUMNS)


def fit(seed: int = 0) -> Any:
    from sklearn.linear_model import LinearRegression

    X = frame(200, seed)
    y = X.a * (1 + seed) + 2 * X.b - X.c + 0.5 * X.d
    return LinearRegression().fit(X, y)


def register(ws: Any, tmp: Path, name: str = "churn", seed: int = 0) -> tuple[Any, Any]:
    """Fit, save (skops) and register a model; (sklearn model, ModelVersion)."""
    from jupyter_mlws.models import save_sklearn

    model = fit(seed)
    path = tmp / f"{name}-{seed}.skops"
    save_sklearn(model, path)
    return model, ws.models.register(name, path, example=frame(5))


class Client:
    """One kept-alive HTTP connection to an endpoint's port."""

    def __init__(self, port: int, key: str | None = None) -> None:
        self.port = port
        self.key = key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        hdrs = dict(headers or {})
        try:
            self.conn.request(method, path, body, hdrs)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise
        text = raw.decode()
        return resp.status, (json.loads(text) if text else {}), text

    def score(
        self, payload: Any, key: str | None = None, ctype: str = "application/json"
    ) -> tuple[int, Any, str]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": ctype}
        if (key or self.key) is not None:
            headers["Authorization"] = f"Bearer {key or self.key}"
        return self.request("POST", "/score", body, headers)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A workspace folder; at teardown its managers stop and leftover replicas are killed."""
    import jupyter_mlws as mlws
    from jupyter_mlws.client.endpoints import stop_local_managers

    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("MLWS_RUN_ID", raising=False)
    workspace = mlws.Workspace()
    yield workspace
    stop_local_managers()
    kill_replicas(workspace.location.workspace)
    workspace.close()


@pytest.fixture
def manager(ws: Any) -> Iterator[Any]:
    """An EndpointManager on the workspace (as the Jupyter server runs it)."""
    from jupyter_mlws.serving.manager import EndpointManager

    mgr = EndpointManager(ws.store, ws.artifact_store, ws.location.workspace).start()
    yield mgr
    mgr.stop()
