"""Start a real `jupyter lab` on 127.0.0.1 and stop it by PID (browser tests, the crash test, bench_ui)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LabServer:
    url: str
    token: str
    root_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        """`method path` with a JSON body, as the panel sends it; the JSON answer (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
            return json.loads(text) if text else None

    def kill(self) -> None:
        """SIGKILL, as a crash would (no shutdown hooks run)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


LAB_DEFAULTS = Path(__file__).resolve().parents[1] / "binder" / "labconfig" / "default_setting_overrides.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(state_dir: Path) -> dict[str, str]:
    """This process's environment for a Jupyter server of its own: its config, data, runtime
    and IPython folders under `state_dir`, and no `$MLWS_WORKSPACE` (the server resolves its own)."""
    env = {k: v for k, v in os.environ.items() if k != "MLWS_WORKSPACE"}
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(state_dir / sub)
    return env


def start_lab(
    root_dir: Path,
    state_dir: Path,
    extra_args: list[str] | None = None,
    app: str = "lab",
    *,
    port: int | None = None,
    token: str | None = None,
    base_url: str = "/",
    env_extra: dict[str, str] | None = None,
) -> LabServer:
    """Start JupyterLab with jupyter_mlws (unless `extra_args` disable it) and wait until ready.

    `app="notebook"` starts Jupyter Notebook 7 (`python -m notebook`) the same way instead, and
    `app="server"` a plain jupyter_server (no front end: the REST API only, quicker to start).
    `port` and `token` restart a server where clients expect it; `base_url` serves it under a
    prefix, as JupyterHub does (`/user/alice/`).
    """
    if app not in ("lab", "notebook", "server"):
        raise ValueError(f"app must be 'lab', 'notebook' or 'server', not {app!r}")
    root_dir.mkdir(parents=True, exist_ok=True)
    port, token = port or free_port(), token or secrets.token_hex(16)
    env = {**server_env(state_dir), **(env_extra or {})}
    # No news or update toasts: the lab must not reach out, and screenshots stay clean.
    labconfig = state_dir / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    shutil.copy(LAB_DEFAULTS, labconfig / "default_setting_overrides.json")
    argv = [
        sys.executable,
        "-m",
        {"lab": "jupyterlab", "notebook": "notebook", "server": "jupyter_server"}[app],
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.base_url={base_url}",
        *(
            ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
            if app == "lab"
            else []
        ),
        "--ServerApp.allow_root=True",
        *(extra_args or []),
    ]
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"{app}-{port}.log"
    log = log_path.open("ab")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir)
    server = LabServer(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", token, root_dir, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter {app} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            server.api("/api/status")
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"jupyter {app} did not start in 60 s:\n{log_path.read_text()[-3000:]}")


CHROMIUM = os.environ.get("MLWS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Debian's chromium is not installed at {CHROMIUM} (make test installs it)"
    return None
