"""Client fixtures: a real workspace folder (SQLite + local artifact store) per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Workspace in a temp folder, also made the default through $MLWS_WORKSPACE."""
    import jupyter_mlws as mlws
    from jupyter_mlws.client import lifecycle

    folder = tmp_path / "ws"
    monkeypatch.setenv("MLWS_WORKSPACE", str(folder))
    monkeypatch.delenv("MLWS_RUN_ID", raising=False)
    workspace = mlws.Workspace()
    yield workspace
    for run in lifecycle.open_runs():
        if run.workspace is workspace:
            run.end("killed", "test teardown")
    workspace.close()
