"""A real SQLite workspace in tmp_path for the widget tests (no kernel: the widgets' comms stay closed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[object]:
    from jupyter_mlws import Workspace

    from jupyter_mlws.client import lifecycle
    from jupyter_mlws.errors import MLWSError

    ws = Workspace(tmp_path / ".mlws")
    try:
        yield ws
    finally:
        for run in lifecycle.open_runs():  # runs a test left open must not outlive its workspace
            if run.workspace is ws:
                try:
                    run.end("killed", "test teardown")
                except MLWSError:  # a test may have deleted its run on purpose
                    lifecycle.forget(run)
        ws.close()


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02) -> float:
    """Poll `predicate` until true; returns the seconds it took (fails the test after `timeout`)."""
    import time

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s")
