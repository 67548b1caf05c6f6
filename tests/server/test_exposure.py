"""A server on a non-loopback address with no token or password serves none of the workspace
(RELIABILITY A10), and says why: in its log and in every answer, `/info` included.

The servers bind 0.0.0.0 for real — inside a network namespace of their own (`unshare -n`,
whose only interface is its own loopback), so nothing outside this test can reach them. The
driver below runs in that namespace: it starts `jupyter server`, probes it as an anonymous
client would (a self-chosen `_xsrf` cookie and header on a POST), and prints what it saw.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.catalogue("A10")

DRIVER = textwrap.dedent(
    r'''
    import json, os, socket, subprocess, sys, time, urllib.error, urllib.request

    ip, token, root = sys.argv[1], sys.argv[2], sys.argv[3]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JUPYTER_CONFIG_DIR=f"{root}/cfg", JUPYTER_DATA_DIR=f"{root}/data",
               JUPYTER_RUNTIME_DIR=f"{root}/run", IPYTHONDIR=f"{root}/ipy")
    env.pop("MLWS_WORKSPACE", None)
    log = open(f"{root}/server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--ServerApp.ip={ip}",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={token}", "--ServerApp.password=",
         "--ServerApp.jpserver_extensions={'jupyter_mlws': True}",
         "--MLWorkspaceApp.serve_endpoints=False", "--MLWorkspaceApp.compute_interval=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/mlws/api/v1"

    def call(method, path, body=None, headers=None):
        req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    out = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        out["info"] = call("GET", "/info")
        xsrf = {"Cookie": "_xsrf=chosen", "X-XSRFToken": "chosen", "Content-Type": "application/json"}
        out["create"] = call("POST", "/experiments", json.dumps({"name": "pwned"}).encode(), xsrf)
        if token:
            auth = {"Authorization": f"token {token}"}
            out["info_with_token"] = call("GET", "/info", headers=auth)
            out["list_with_token"] = call("GET", "/experiments", headers=auth)
        else:
            out["list"] = call("GET", "/experiments")
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(out))
    '''
)


def _netns_ok() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2) for a private network namespace"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace here ({probe.stderr.strip()[:80]}); needs root"
    return None


@pytest.fixture
def probe(tmp_path: Path) -> Any:
    reason = _netns_ok()
    if reason:
        pytest.skip(reason)

    def run(ip: str, token: str) -> tuple[dict[str, Any], str]:
        root = tmp_path / f"root-{ip.replace(':', '_') or 'all'}-{bool(token)}"
        root.mkdir()
        (root / "driver.py").write_text(DRIVER)
        done = subprocess.run(
            ["unshare", "-n", sys.executable, str(root / "driver.py"), ip, token, str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        return {k: (v[0], json.loads(v[1]) if v[1].startswith("{") else v[1]) for k, v in seen.items()}, (
            root / "server.log"
        ).read_text()

    return run


def test_all_interfaces_and_no_token_serves_nothing_and_says_why(probe: Any) -> None:
    seen, log = probe("0.0.0.0", "")
    status, body = seen["info"]
    assert status == 403 and body["error"] == "forbidden"
    assert "0.0.0.0" in body["message"] and "no token and no password" in body["message"]
    assert "--IdentityProvider.token" in body["message"]  # and what to do about it
    assert seen["create"][0] == 403  # a chosen _xsrf cookie + header opens nothing
    assert seen["list"][0] == 403
    assert "jupyter_mlws refuses to serve the ML workspace" in log


def test_a_token_on_all_interfaces_or_loopback_without_one_serve_as_usual(probe: Any) -> None:
    seen, log = probe("0.0.0.0", "s3cret-token")
    assert seen["info"][0] == 403 and "refuses" not in json.dumps(seen["info"][1])  # plain auth
    assert seen["create"][0] == 403
    assert seen["info_with_token"][0] == 200 and seen["info_with_token"][1]["ready"] in (True, False)
    assert seen["list_with_token"][0] == 200
    assert "refuses to serve" not in log
    seen, log = probe("127.0.0.1", "")
    assert seen["info"][0] == 200  # jupyter_server's own choice for a loopback-only dev server
    assert "refuses to serve" not in log
