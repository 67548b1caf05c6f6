"""Shared pieces of the job tests: one real Jupyter server (its own process, the REST API) with one
training cluster for the whole module, and a workspace URL client on it.

The cluster is a Dask LocalCluster of worker processes the server starts and adapts; tests that
need a fresh server (restart) or another cluster make their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..lab_server import LabServer, start_lab

CLUSTER = "cpu"


def until(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    every: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> Any:
    """Call `check()` until it gives something true (returned), or fail saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}" + (f" ({explain()})" if explain else ""))
        time.sleep(every)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("jobs-server")
    lab = start_lab(base / "root", base / "state", app="server")
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def ws(server: LabServer) -> Any:
    import jupyter_mlws as mlws

    workspace = mlws.Workspace(server.url, token=server.token)
    workspace.compute.create_cluster(
        CLUSTER, min_nodes=0, max_nodes=2, node={"cpus": 1}, idle_seconds_before_scaledown=30
    )
    return workspace


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's project folder (the current folder) with a code folder `src/`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    return tmp_path
