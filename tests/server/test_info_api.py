"""`GET /mlws/api/v1/info` through a real jupyter_server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

import jupyter_mlws


async def test_info_answers_workspace_version_and_store(jp_fetch, jp_root_dir: Path) -> None:
    response = await jp_fetch("mlws", "api", "v1", "info")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert body["workspace"] == str(jp_root_dir / ".mlws")
    assert body["version"] == jupyter_mlws.__version__
    assert body["store_kind"] == "sqlite"
    assert body["store_url"] == f"sqlite:///{jp_root_dir / '.mlws'}/mlws.db"
    assert body["artifact_url"] == str(jp_root_dir / ".mlws" / "artifacts")
    assert body["ready"] is True and body["problem"] is None and body["warnings"] == []


@pytest.mark.catalogue("C2")
async def test_info_names_a_reader_that_keeps_the_wal_from_being_reset(
    jp_fetch, jp_root_dir: Path, jp_serverapp
) -> None:
    """A process outside the workspace left in a read transaction, writes going on: once the WAL
    passes the cap, `/info` names that process; once it ends, the warning goes."""
    import subprocess
    import sys
    import time

    from jupyter_mlws.entities import Metric

    await jp_fetch("mlws", "api", "v1", "info")
    store = jp_serverapp.web_app.settings["mlws_services"].store
    store.wal_cap_bytes = 512 * 1024
    run = store.create_run(store.create_experiment("pinned").experiment_id).info
    database = jp_root_dir / ".mlws" / "mlws.db"
    script = (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN'); c.execute('SELECT 1 FROM runs').fetchall(); print('in', flush=True); "
        "time.sleep(120)"
    )
    reader = subprocess.Popen([sys.executable, "-c", script, str(database)], stdout=subprocess.PIPE)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == b"in"
        now = int(time.time() * 1000)
        for batch in range(10):
            store.log_batch(run.run_id, [Metric("loss", 1.0, batch * 1000 + i, now) for i in range(1000)])
        store.checkpoint()
        warnings = json.loads((await jp_fetch("mlws", "api", "v1", "info")).body)["warnings"]
        assert len(warnings) == 1 and f"pid {reader.pid} (" in warnings[0], warnings
    finally:
        reader.kill()
        reader.wait(10)
    store.checkpoint()
    assert json.loads((await jp_fetch("mlws", "api", "v1", "info")).body)["warnings"] == []


@pytest.mark.catalogue("A2")
async def test_info_refuses_anonymous_requests(jp_fetch) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlws", "api", "v1", "info", headers={"Authorization": ""})
    assert caught.value.code == 403


async def test_server_creates_the_workspace_and_exports_it_to_kernels(jp_fetch, jp_root_dir: Path) -> None:
    await jp_fetch("mlws", "api", "v1", "info")
    assert (jp_root_dir / ".mlws").is_dir()
    # Kernels inherit the server's environment, so they find the same workspace.
    assert os.environ["MLWS_WORKSPACE"] == str(jp_root_dir / ".mlws")


async def test_unknown_api_path_is_a_json_404(jp_fetch) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlws", "api", "v1", "no-such-resource")
    assert caught.value.code == 404


class TestConfiguredWorkspace:
    @pytest.fixture
    def jp_server_config(self, jp_root_dir: Path, tmp_path: Path) -> dict:
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_mlws": True},
                "allow_unauthenticated_access": False,
            },
            "MLWorkspaceApp": {
                "workspace": "team-ws",
                "store_url": "postgresql://ml:s3cret@127.0.0.1:5432/mlws",
            },
        }

    async def test_configured_workspace_and_redacted_store_url(self, jp_fetch, jp_root_dir: Path) -> None:
        body = json.loads((await jp_fetch("mlws", "api", "v1", "info")).body)
        assert body["workspace"] == str(jp_root_dir / "team-ws")
        assert body["store_kind"] == "postgresql"
        assert "s3cret" not in json.dumps(body)
        assert body["store_url"] == "postgresql://ml:***@127.0.0.1:5432/mlws"
        # Nothing listens there: /info still answers, and says why the workspace is not serving.
        assert body["ready"] is False and body["problem"]
        assert "s3cret" not in body["problem"]
        runs = await jp_fetch("mlws", "api", "v1", "runs", raise_error=False)
        assert runs.code == 503 and json.loads(runs.body)["error"] == "unavailable"
