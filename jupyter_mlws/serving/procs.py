"""Processes, ports and files of the endpoint manager (`serving/manager.py`).

Who calls this: the manager (spawn/stop replicas, pick a port, clean up stale replicas,
write its heartbeat file) and `client/endpoints.py` (`live_managers`: is a manager alive
for this workspace?).

Layout under the serving folder (`serving_dir(workspace)`: `<workspace>/serving` for a
folder workspace, else a per-store folder in the Jupyter runtime dir):
- `managers/<host>-<pid>.json` — one heartbeat file per live manager ({owner, pid, host,
  heartbeat ms}), rewritten every second, removed at stop;
- `<endpoint>/config.json` (0600; key HASHES only), `<endpoint>/replica.log`,
  `<endpoint>/replica-<pid>.json` (each replica's stats, serving/replica.py).

Decisions: replicas start in their own session (terminal signals do not reach them) with
one BLAS/OpenMP thread each; a replica is recognised by its command line
(`-m jupyter_mlws.serving.replica <config under this serving folder>`), checked before any
signal is sent to a recorded pid (pid reuse).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

REPLICA_MODULE = "jupyter_mlws.serving.replica"
MANAGER_LAPSE_MS = 5_000


def serving_dir(workspace: str | os.PathLike[str]) -> Path:
    """Where the manager keeps configs, logs and stats for this workspace."""
    raw = os.fspath(workspace)
    if "://" not in raw and os.path.isdir(raw):
        return Path(raw).resolve() / "serving"
    from jupyter_core.paths import jupyter_runtime_dir

    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return Path(jupyter_runtime_dir()) / "mlws-serving" / digest


def cache_root(workspace: str | os.PathLike[str]) -> Path:
    """The models cache (`<workspace>/models-cache`, or beside the serving folder)."""
    raw = os.fspath(workspace)
    if "://" not in raw and os.path.isdir(raw):
        return Path(raw).resolve() / "models-cache"
    return serving_dir(workspace) / "models-cache"


def now_ms() -> int:
    return int(time.time() * 1000)


def write_json(path: Path, data: Any, mode: int = 0o600) -> None:
    """Write atomically (temp file + rename), readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, sort_keys=True)
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def free_port(host: str) -> int:
    """A port nobody listens on now (the kernel's pick), for a new endpoint."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn_replica(config: Path) -> subprocess.Popen[bytes]:
    """Start one replica on `config`; its output goes to the endpoint's replica.log."""
    from .sandbox import scrubbed_env

    env = scrubbed_env(os.environ)  # no credentials reach a model's code (serving/sandbox.py)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.pop("MLWS_RUN_ID", None)
    from .logs import LOG_NAME, rotate

    rotate(config.parent)
    with open(config.parent / LOG_NAME, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", REPLICA_MODULE, str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL what is left; reap all."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stale_replicas(folder: Path, keep: set[int]) -> list[psutil.Process]:
    """Replica processes serving a config under `folder` that are not ours (`keep`)."""
    root = str(folder)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if proc.info["pid"] in keep or len(cmd) < 4 or REPLICA_MODULE not in cmd:
            continue
        if cmd[-1].startswith(root + os.sep):
            found.append(proc)
    return found


def kill_stale(folder: Path, keep: set[int]) -> int:
    """End stale replicas under `folder` (SIGTERM, then SIGKILL after 3 s); how many."""
    procs = stale_replicas(folder, keep)
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=3.0)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=2.0)
    return len(procs)


def pid_alive(pid: int) -> bool:
    try:
        return bool(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def owner_alive(owner: str | None, heartbeat: int | None, lapse_ms: int) -> bool:
    """Is the manager `owner` ("host:pid") alive: fresh heartbeat, and its pid runs when local."""
    if not owner or not heartbeat or now_ms() - heartbeat > lapse_ms:
        return False
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return pid_alive(int(pid))
    return True


def live_managers(folder: Path) -> list[dict[str, Any]]:
    """Heartbeat files of managers alive now for this serving folder."""
    out = []
    for path in sorted((folder / "managers").glob("*.json")):
        data = read_json(path)
        if data and owner_alive(data.get("owner"), data.get("heartbeat"), MANAGER_LAPSE_MS):
            out.append(data)
    return out
