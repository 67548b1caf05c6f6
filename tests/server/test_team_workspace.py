"""A team workspace for real (issue 14, item 4): two Jupyter servers — alice's and bob's — on one
PostgreSQL database and one S3 bucket, served by real processes on 127.0.0.1 (PostgreSQL from
Debian's binaries, moto's S3 server; `tests/services.py`).

Each user logs, registers and reads the other's runs and models through their own server's URL;
artifacts stream to and from S3 through the servers without being held in memory; each server's
kernels write to the team's stores and are supervised by their own server only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.lab_server import LabServer, start_lab

BUCKET = "team-ml"


@pytest.fixture(scope="module")
def team(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str, s3_server: dict[str, str]
) -> Iterator[dict[str, object]]:
    import boto3
    import psycopg

    database = f"team_{int(time.time() * 1000)}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    store_url = f"{postgres_server}/{database}"
    boto3.client(
        "s3",
        endpoint_url=s3_server["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    base = tmp_path_factory.mktemp("team")
    args = [f"--MLWorkspaceApp.store_url={store_url}", f"--MLWorkspaceApp.artifact_url=s3://{BUCKET}/ws"]
    servers: dict[str, LabServer] = {}
    try:
        for user in ("alice", "bob"):
            servers[user] = start_lab(
                base / user / "root", base / user / "state", args, app="server", env_extra=s3_server
            )
        yield {"servers": servers, "base": base, "s3": s3_server, "store_url": store_url}
    finally:
        for server in servers.values():
            server.stop()


def _workspace(server: LabServer):  # type: ignore[no-untyped-def]
    from jupyter_mlws import Workspace

    return Workspace(server.url, token=server.token)


def _s3_keys(s3: dict[str, str]) -> set[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def test_two_users_log_register_and_read_each_others_work(
    team: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    from jupyter_mlws.models import save_sklearn

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    alice_server, bob_server = team["servers"]["alice"], team["servers"]["bob"]
    alice, bob = _workspace(alice_server), _workspace(bob_server)
    for server in (alice_server, bob_server):
        info = server.api("/mlws/api/v1/info")
        assert info["store_kind"] == "postgresql" and info["artifact_url"] == f"s3://{BUCKET}/ws"

    X = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 2)), columns=["a", "b"])
    y = X["a"] * 2 - X["b"]
    data = tmp_path / "features.bin"
    data.write_bytes(np.random.default_rng(2).bytes(3 * 1024 * 1024))
    with alice.start_run(experiment="team", name="alice-ridge") as run_a:
        run_a.log_params({"alpha": 0.5})
        for step in range(200):
            run_a.log_metric("loss", 1 / (step + 1), step=step)
        run_a.log_artifact(data)
        save_sklearn(Ridge(alpha=0.5).fit(X, y), tmp_path / "model.skops")
    alice.models.register("team-ridge", path=tmp_path / "model.skops", run=run_a, example=X.head())

    # Bob, through his own server, sees alice's run, her metrics, her artifact and her model.
    found = bob.runs(experiment="team")
    assert found["name"].tolist() == ["alice-ridge"]
    seen = bob.get_run(run_a.id)
    assert seen.params == {"alpha": "0.5"} and len(seen.metric_history("loss")) == 200
    back = seen.download_artifacts("features.bin", dest=tmp_path / "bob")
    assert back.read_bytes() == data.read_bytes()
    predictor = bob.models.load("team-ridge")
    assert np.allclose(predictor.predict(X.head(5)), Ridge(alpha=0.5).fit(X, y).predict(X.head(5)))
    with bob.start_run(experiment="team", name="bob-check") as run_b:
        run_b.log_metric("score", 0.93, step=0)
    # ... and alice sees bob's.
    assert set(alice.runs(experiment="team")["name"]) == {"alice-ridge", "bob-check"}
    assert alice.get_run(run_b.id).metrics == {"score": 0.93}
    # The bytes are in the bucket, not on either server's disk.
    keys = _s3_keys(team["s3"])
    assert f"ws/{run_a.id}/artifacts/features.bin" in keys
    assert any(key.startswith("ws/blobs/") for key in keys)
    for user in ("alice", "bob"):
        assert not (team["base"] / user / "root" / ".mlws" / "artifacts").exists()


@pytest.mark.catalogue("C7")
def test_a_large_artifact_streams_through_a_server_to_s3(team: dict, tmp_path: Path) -> None:
    server = team["servers"]["alice"]
    ws = _workspace(server)
    process = psutil.Process(server.process.pid)
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        for _ in range(96):
            out.write(b"\x5a" * (1024 * 1024))
    with ws.start_run(experiment="team", name="big-upload") as run:
        run.log_text("warm-up", "small.txt")  # imports and first connections, before measuring
        before = process.memory_info().rss
        run.log_artifact(big)
        grown = process.memory_info().rss - before
    assert grown < 64 * 1024 * 1024, f"the server grew by {grown / 1e6:.0f} MB for a 96 MB upload"
    assert run.artifacts().set_index("path").loc["big.bin", "size"] == 96 * 1024 * 1024


def _kernel_on(server: LabServer, state: Path):  # type: ignore[no-untyped-def]
    from jupyter_client import BlockingKernelClient

    kernel = server.call("POST", "/api/kernels", {"name": "python3"})
    client = BlockingKernelClient()
    client.load_connection_file(str(state / "runtime" / f"kernel-{kernel['id']}.json"))
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return kernel["id"], client


def _running_run(ws, name: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ws.runs(experiment="team-kernels", filter=f"name = '{name}'")
        if len(found):
            return found.iloc[0]
        time.sleep(0.3)
    raise AssertionError(f"no run {name!r}")


def test_kernels_write_to_the_team_stores_and_are_supervised_by_their_own_server(team: dict) -> None:
    alice_server, bob_server = team["servers"]["alice"], team["servers"]["bob"]
    kernel_id, client = _kernel_on(alice_server, team["base"] / "alice" / "state")
    bob = _workspace(bob_server)
    try:
        client.execute(
            "%%mlrun -e team-kernels -n alice-cell\nimport time, jupyter_mlws as mlws\n"
            "mlws.log_metric('x', 1.0, step=0)\nprint('cell output', flush=True)\ntime.sleep(120)\n"
        )
        row = _running_run(bob, "alice-cell")
        assert row["status"] == "running"
        # Bob's server stops: it ends its own kernels' runs, never alice's.
        bob_server.stop()
        time.sleep(2)
        alice = _workspace(alice_server)
        assert alice.get_run(row["run_id"]).status == "running"
        # Alice's kernel dies: her server ends its run, with the reason, within seconds.
        pid = None
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if kernel_id in " ".join(proc.info["cmdline"] or []):
                proc.kill()
                pid = proc.pid
        assert pid, "found the kernel process"
        deadline = time.monotonic() + 15
        while alice.get_run(row["run_id"]).status == "running" and time.monotonic() < deadline:
            time.sleep(0.3)
        ended = alice.get_run(row["run_id"])
        assert ended.status == "killed" and ended.info.status_reason
        assert ended.metrics["x"] == 1.0
        assert "cell output" in ended.logs()  # the kernel wrote its live log to S3 itself
    finally:
        client.stop_channels()
        team["servers"]["bob"] = start_lab(  # for any later test of the module
            team["base"] / "bob" / "root",
            team["base"] / "bob" / "state",
            [
                f"--MLWorkspaceApp.store_url={team['store_url']}",
                f"--MLWorkspaceApp.artifact_url=s3://{BUCKET}/ws",
            ],
            app="server",
            env_extra=team["s3"],
        )
