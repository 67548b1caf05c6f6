"""Kernels started by the server are workspace kernels: `%%mlrun` without `%load_ext`, every cell
recorded, and a `%%mlrun` cell whose kernel is killed with SIGKILL ends `killed` (RELIABILITY K1).

The kernels are started through the server's kernel manager (as JupyterLab does), so they inherit
`$MLWS_WORKSPACE`, `$MLWS_RECORD_EXECUTIONS` and the `$PYTHONSTARTUP` that loads the extension.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from jupyter_mlws.entities import RunStatus

from .test_supervisor import Kernel, _ended

# The supervisor tests' fixtures: a server on a workspace in tmp with short check intervals.
from .test_supervisor import (  # noqa: F401
    jp_server_config,
    kernel_manager_config,
    mlws_traits,
    services,
    workspace_dir,
)


async def _executions(services, kernel_id: str, want: int, timeout: float = 15.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = await services.run(services.store.list_executions, kernel_id=kernel_id)
        if len(found) >= want or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_server_kernels_have_mlrun_and_record_every_cell(jp_serverapp, services) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        await kernel.run("x = 40 + 2")
        out = await kernel.run(
            "%%mlrun -e autoload -n first\nimport jupyter_mlws as mlws\nmlws.log_metric('acc', 0.5)\nprint('hi', x)"
        )
        assert "hi 42" in out
        found = await _executions(services, kernel.id, want=2)
        sources = [e.source for e in found]
        assert "x = 40 + 2" in sources and any(s.startswith("%%mlrun -e autoload") for s in sources)
        runs = await services.run(services.store.search_runs, None, "name = 'first'")
        (info,) = runs.runs
        assert info.kernel_id == kernel.id and info.source_kind == "notebook"
        mlrun_execution = next(e for e in found if e.source.startswith("%%mlrun"))
        assert mlrun_execution.run_id == info.run_id and mlrun_execution.status == "ok"
    finally:
        await kernel.close()


async def test_load_ext_in_a_workspace_kernel_is_silent_and_keeps_one_recorder(jp_serverapp, services) -> None:
    """Example 03 starts with `%load_ext jupyter_mlws` and says it does nothing where the
    extension is already loaded: no "already loaded" line, and cells are still recorded once."""
    kernel = await Kernel.start(jp_serverapp)
    try:
        assert await kernel.run("%load_ext jupyter_mlws") == ""
        await kernel.run("y = 1")
        found = await _executions(services, kernel.id, want=2)
        assert [e.source for e in found].count("y = 1") == 1
        out = await kernel.run("%%mlrun -e autoload -n after-load-ext\nprint('ok')")
        assert "ok" in out
    finally:
        await kernel.close()


@pytest.mark.catalogue("K1")
async def test_kill_9_during_an_mlrun_cell_ends_the_run_killed_with_its_flushed_points(
    jp_serverapp, services
) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        cell = (
            "%%mlrun -e k1 -n doomed\n"
            "import json, os, time, jupyter_mlws as mlws\n"
            "for i in range(100):\n"
            "    mlws.log_metric('loss', 1.0 / (i + 1), step=i)\n"
            "mlws.active_run().flush()\n"
            "print(json.dumps({'run_id': mlws.active_run().id, 'pid': os.getpid()}), flush=True)\n"
            "time.sleep(120)\n"
        )
        lines: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                lines.extend(msg["content"]["text"].splitlines())

        running = asyncio.ensure_future(kernel.client.execute_interactive(cell, output_hook=hook, timeout=180))
        deadline = time.monotonic() + 60
        while not any(line.startswith("{") for line in lines):
            assert time.monotonic() < deadline, "the cell never printed its run"
            assert not running.done(), "the cell ended early"
            await asyncio.sleep(0.1)
        owner = json.loads(next(line for line in lines if line.startswith("{")))
        killed_at = time.monotonic()
        os.kill(owner["pid"], signal.SIGKILL)
        info = await _ended(services, owner["run_id"], timeout=10)
        assert time.monotonic() - killed_at < 10
        assert info.status == RunStatus.KILLED and info.end_time is not None and info.status_reason
        history = await services.run(services.store.get_metric_history, owner["run_id"], "loss")
        assert history.total_points == 100
        running.cancel()
    finally:
        await kernel.close()
