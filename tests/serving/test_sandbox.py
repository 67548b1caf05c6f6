"""RELIABILITY S3: what a model's code can reach from a scoring replica.

A real endpoint whose entry script probes its surroundings on every request: it connects to a
listener of this test on 127.0.0.1, reads the workspace database, a Jupyter runtime file holding a
token and its own model file, writes into the workspace and past the replica's size limit, and
reports its user, temp folder, working folder and environment. Where this machine allows the
namespaces (root, or unprivileged user namespaces), the connection fails and the listener sees
nothing, the server's files are not there, and nothing lands in the workspace; where it does not,
the endpoint's stats say so. As root, the model runs as `nobody`.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from ..canary import Canary

pytestmark = pytest.mark.catalogue("S3")

PROBE = """
import json, os, socket, tempfile

def init():
    pass

def run(raw):
    asked = json.loads(raw)
    out = {"tmp": tempfile.gettempdir(), "cwd": os.getcwd()}
    try:
        socket.create_connection(("127.0.0.1", asked["port"]), timeout=3).close()
        out["connect"] = "connected"
    except OSError as err:
        out["connect"] = err.strerror or str(err)
    out["secrets"] = sorted(k for k in os.environ if "TOKEN" in k or "SECRET" in k)
    out["uid"] = os.geteuid()
    out["read"] = {}
    for path in asked.get("read", []):
        try:
            with open(path, "rb") as handle:
                out["read"][path] = "read %d bytes" % len(handle.read())
        except OSError as err:
            out["read"][path] = err.strerror
    if asked.get("write_to"):
        try:
            with open(asked["write_to"], "w") as handle:
                handle.write("escaped")
            out["write_to"] = "written"
        except OSError as err:
            out["write_to"] = err.strerror
    path = os.path.join(out["tmp"], "big.bin")
    try:
        with open(path, "wb") as handle:
            handle.write(b"x" * asked["write"])
        out["write"] = "written"
    except OSError as err:
        out["write"] = err.strerror
    finally:
        if os.path.exists(path):
            os.remove(path)
    return out
"""


def _namespaces_allowed() -> bool:
    probe = "from jupyter_mlws.serving.sandbox import isolate_network; print(isolate_network())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() == "None"


def _until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_a_model_cannot_connect_out_writes_past_its_limit_in_vain_and_sees_no_credentials(
    ws: Any, tmp_path: Path, canary: Canary, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlws.serving.manager import EndpointManager
    from jupyter_mlws.serving.sandbox import sandbox_plan

    monkeypatch.setenv("MLWS_TOKEN", "the-server-token")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-cloud-key")
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "score.py").write_text(PROBE)
    ws.models.register("probe", folder, trusted=True)
    manager = EndpointManager(
        ws.store, ws.artifact_store, ws.location.workspace, max_file_bytes=1024 * 1024
    ).start()
    try:
        ep = ws.endpoints.deploy("probe-api", model="probe:1")
        database = str(ws.store.database_file)
        token_file = Path(runtime) / "jpserver-4242.json"
        token_file.write_text(json.dumps({"token": "the-server-token"}))
        escape = Path(ws.location.workspace) / "escaped.txt"
        out = ep.score({
            "port": canary.port,
            "write": 2 * 1024 * 1024,
            "read": [database, str(token_file), "score.py"],
            "write_to": str(escape),
        })
        isolated = _namespaces_allowed()
        if isolated:
            assert out["connect"] == "Network is unreachable", out
            assert canary.accepted == 0
            assert out["read"][database] == "No such file or directory", out
            assert out["read"][str(token_file)] == "No such file or directory", out
            assert not escape.exists(), "a write into the workspace never lands there"
        else:  # this machine allows no namespaces: the endpoint says so
            warnings = _until(lambda: ep.refresh().stats().get("warnings"), 10, "a warning")
            assert "share this machine's network" in warnings[0]
        plan = sandbox_plan(ws.location.workspace, None, "/x", "/y")
        if plan["user"] is not None:  # the server is root (with a `nobody` to become): the model is not
            assert out["uid"] == plan["user"][0] != 0
            assert out["write_to"] == "Permission denied" or not isolated
        else:  # the server's own user, or root of a user namespace without other users: it says so
            assert out["uid"] == os.geteuid()
            if out["uid"] == 0:
                warnings = _until(lambda: ep.refresh().stats().get("warnings"), 10, "a warning")
                assert any("run as root" in w for w in warnings), warnings
        # a private 0700 temp folder, also its working folder
        assert out["tmp"] == out["cwd"]
        assert Path(out["tmp"]).name.startswith("mlws-replica-probe-api-")
        assert Path(out["tmp"]).parent == Path(tempfile.gettempdir())
        assert stat.S_IMODE(os.stat(out["tmp"]).st_mode) == 0o700
        # no credentials in its environment, and no file past its limit
        assert out["secrets"] == []
        assert out["write"] == "File too large"
        sandbox = _until(lambda: ep.refresh().stats().get("sandbox"), 10, "the sandbox in the stats")
        assert sandbox["max_file_bytes"] == 1024 * 1024 and sandbox["core_file_bytes"] == 0
        assert sandbox["network"] == ("isolated" if isolated else sandbox["network"])
        assert sandbox["files"] == ("hidden" if isolated else sandbox["files"])
        # the endpoint still answers normally between probes
        assert ep.score({"port": canary.port, "write": 10})["write"] == "written"
        ws.endpoints.delete("probe-api")
        _until(lambda: not os.path.exists(out["tmp"]), 15, "the temp folder removed with the replica")
    finally:
        manager.stop()
    assert json.dumps(out)  # (what the model saw, shown on failure)
