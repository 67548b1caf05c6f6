"""Repro fixtures: a real workspace folder (SQLite + local artifact store) per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Workspace in a temp folder, also made the default through $MLWS_WORKSPACE."""
    import jupyter_mlws as mlws

    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("MLWS_RUN_ID", raising=False)
    workspace = mlws.Workspace()
    yield workspace
    workspace.close()
