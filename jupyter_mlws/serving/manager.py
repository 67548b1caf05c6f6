"""`EndpointManager`: runs the endpoints of a workspace as replica processes.

Who calls this: the Jupyter server (helper C's app wiring: started and stopped with the
server), `jupyter mlws endpoints serve` (foreground), or `ws.endpoints.deploy` inside a
kernel/script when no manager is alive for the workspace (an in-process thread that lives
as long as that process).

What it does, every `interval` seconds (a background thread), for each endpoint in the
store that is not `stopped`:
- ownership: it runs the endpoints it owns (`Endpoint.owner` = "host:pid", lease
  `owner_heartbeat` refreshed every `HEARTBEAT_SECONDS`); it takes an endpoint over when
  nobody owns it or the owner's heartbeat lapsed (`LEASE_MS`) or its pid is gone — so a
  server started after a kernel's manager died brings the kernel's endpoints back.
  Before starting replicas of an endpoint it has just taken, it kills stale replicas of
  that endpoint (command line checked, `serving/procs.py`);
- deployments given by alias ("churn@production") are re-resolved; a moved alias pins
  the new version (`update_endpoint(deployments=..., state="updating")`);
- picks a free port once (`Endpoint.port`, kept for the endpoint's life: a restarted
  manager serves on the same port);
- writes `<endpoint>/config.json` (key hashes, versions, traffic, limits) and SIGHUPs the
  replicas when it changed (alias moves, traffic, key rotation: effective within ~1 s);
- keeps `replicas` processes alive (a dead one — kill -9, crash — is started again; three
  failures in a row of fresh replicas mark the endpoint `failed` with the replica's one-line
  reason until its config changes);
- `running` once every replica reports ready with the configured versions;
- aggregates the replicas' stats files into `update_endpoint(stats=...)` about once a second.
Endpoints deleted from the store (or `stopped`) get their replicas stopped. A pinned
version deleted from the registry (or whose files changed) marks the endpoint `failed`;
running replicas keep the model they loaded and verified, nothing new is loaded (S6).

`stop()` stops every replica it started and releases ownership (state unchanged), so the
next manager on the same store brings the endpoints back.

Decisions: the store is the only shared state (ownership by lease, no lock server); two
managers claiming the same endpoint in the same instant is possible in theory (no
compare-and-set in `update_endpoint`) and settles on the next heartbeat (the loser sees a
foreign fresh owner and stops its replicas). Stats count requests since this manager
started the replicas.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import Deployment, Endpoint
from ..errors import MLWSError, NotFound
from ..validation import parse_model_ref
from . import procs, stats
from .sandbox import sandbox_plan

if TYPE_CHECKING:
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore

LEASE_MS = 10_000
HEARTBEAT_SECONDS = 2.0
STATS_SECONDS = 1.0
MAX_FAST_FAILURES = 3
FAST_FAILURE_SECONDS = 10.0
VERSION_FIELDS = (
    "name",
    "version",
    "flavor",
    "files",
    "sha256",
    "size_bytes",
    "signature",
    "trusted",
    "trusted_types",
    "tags",  # the entry script's name (`entry_script`): one rule for it everywhere (models/flavors.py)
)


@dataclass
class _Running:
    """What this manager runs for one endpoint."""

    folder: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: dict[int, float] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    failures: int = 0
    failed_config: dict[str, Any] | None = None
    retired: list[dict[str, Any]] = field(default_factory=list)
    last_stats: dict[str, Any] | None = None


class EndpointManager:
    """Reconciles the store's endpoints with replica processes (see the module docstring)."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        workspace: str | os.PathLike[str],
        log: logging.Logger | None = None,
        *,
        interval: float = 0.25,
        host_policy: dict[str, Any] | None = None,
        busy_poll_us: int | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.workspace = os.fspath(workspace)
        self.log = log or logging.getLogger("jupyter_mlws.serving")
        self.interval = interval
        # The Jupyter server's Host rule (`serving/hosts.py`) and the replicas' busy-poll window
        # (`serving/spin.py`); None: the replicas' defaults.
        self.host_policy = host_policy
        self.busy_poll_us = busy_poll_us
        #: The largest file a replica may write (serving/sandbox.py); None: its default, 1 GiB.
        self.max_file_bytes = max_file_bytes
        self.folder = procs.serving_dir(self.workspace)
        self.cache_root = procs.cache_root(self.workspace)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_at = 0.0
        self._stats_at = 0.0
        self._claimed_at: dict[str, float] = {}

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> EndpointManager:
        """Start the reconcile thread (returns self)."""
        if self._thread is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.folder / "managers").mkdir(exist_ok=True, mode=0o700)
        self._write_heartbeat()
        self._kill_orphans()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mlws-endpoint-manager", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and every replica it started; release ownership."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for name in list(self.running):
            self._stop_endpoint(name, release=True)
        try:
            self._heartbeat_path.unlink()
        except OSError:
            pass

    def _kill_orphans(self) -> None:
        """At start: end replicas left under this serving folder by a dead manager, for endpoints
        that are gone from the store or whose owner is not alive (those it takes over are checked
        again when claimed)."""
        endpoints = {e.name: e for e in self.store.list_endpoints()}
        for proc in procs.stale_replicas(self.folder, keep=set()):
            try:
                name = Path(proc.cmdline()[-1]).parent.name
            except Exception:
                continue
            ep = endpoints.get(name)
            if ep is not None and procs.owner_alive(ep.owner, ep.owner_heartbeat, LEASE_MS):
                continue
            self.log.info("endpoint manager: stopping stale replica %d of %s", proc.pid, name)
            procs.kill_stale(self.folder / name, keep=set())

    @property
    def _heartbeat_path(self) -> Path:
        host, _, pid = self.owner.rpartition(":")
        return self.folder / "managers" / f"{host}-{pid}.json"

    def _write_heartbeat(self) -> None:
        host, _, pid = self.owner.rpartition(":")
        data = {"owner": self.owner, "host": host, "pid": int(pid), "heartbeat": procs.now_ms()}
        procs.write_json(self._heartbeat_path, data, 0o644)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:  # keep serving; the next pass retries
                self.log.exception("endpoint manager: reconcile failed")
            self._stop.wait(self.interval)

    # --- one pass ------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Bring the replica processes in line with the store (one pass)."""
        now = time.monotonic()
        beat = now - self._beat_at >= HEARTBEAT_SECONDS
        if beat:
            self._beat_at = now
            self._write_heartbeat()
        want_stats = now - self._stats_at >= STATS_SECONDS
        if want_stats:
            self._stats_at = now
        seen = set()
        for endpoint in self.store.list_endpoints():
            if endpoint.state == "stopped":
                continue
            mine = endpoint.owner == self.owner
            if not mine:
                if procs.owner_alive(endpoint.owner, endpoint.owner_heartbeat, LEASE_MS):
                    continue
                endpoint = self._claim(endpoint)
            elif beat:
                endpoint = self.store.update_endpoint(endpoint.name, owner_heartbeat=procs.now_ms())
            seen.add(endpoint.name)
            try:
                self._reconcile_endpoint(endpoint, want_stats)
            except MLWSError as exc:
                self._set_state(endpoint, "failed", exc.message)
        for name in list(self.running):
            if name not in seen:
                self._stop_endpoint(name, release=False)

    def _claim(self, endpoint: Endpoint) -> Endpoint:
        folder = self.folder / endpoint.name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        killed = procs.kill_stale(folder, keep=set())
        if killed:
            self.log.info("endpoint %s: stopped %d stale replica(s)", endpoint.name, killed)
        self.log.info("endpoint %s: taken over by %s", endpoint.name, self.owner)
        return self.store.update_endpoint(endpoint.name, owner=self.owner, owner_heartbeat=procs.now_ms())

    def _reconcile_endpoint(self, endpoint: Endpoint, want_stats: bool) -> None:
        run = self.running.get(endpoint.name)
        if run is None:
            run = self.running[endpoint.name] = _Running(self.folder / endpoint.name)
            run.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        endpoint = self._follow_aliases(endpoint)
        if endpoint.port is None:
            endpoint = self.store.update_endpoint(endpoint.name, port=procs.free_port(endpoint.host))
        config = self._config(endpoint)
        path = run.folder / "config.json"
        if config != run.config:
            self._materialize(endpoint.name, config, run.config)
            procs.write_json(path, config)
            user = (config.get("sandbox") or {}).get("user")
            if user:  # the replicas' user reads its config and writes its stats there
                os.chown(run.folder, user[0], user[1])
                os.chown(path, user[0], user[1])
            run.config = config
            run.failures = 0
            for proc in run.procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGHUP)
        self._supervise(endpoint, run, path)
        reports = self._read_reports(run)
        if run.failed_config is None:
            self._update_state(endpoint, run, reports)
        if want_stats:
            self._publish_stats(endpoint, run, reports)

    def _materialize(self, name: str, config: dict[str, Any], before: dict[str, Any] | None) -> None:
        """Put the new versions' files in the models cache before the replicas are told: a
        replica has no network (serving/sandbox.py) and no artifact store credentials, so it
        only verifies and loads what is cached. Best effort: a failure here is the replica's to
        report (it tries again and names it)."""
        from ..entities import ModelVersion
        from ..models.files import materialize

        had = {d["version"]["sha256"] for d in (before or {}).get("deployments", ())}
        for dep in config["deployments"]:
            if dep["version"]["sha256"] in had:
                continue
            try:
                folder = materialize(self.artifacts, ModelVersion.from_dict(dep["version"]), self.cache_root)
                if (config.get("sandbox") or {}).get("user"):
                    _readable_by_all(self.cache_root, folder)
            except Exception as exc:  # the replica reports it with the endpoint's state
                self.log.info("endpoint %s: could not cache %s: %s", name, dep["name"], exc)

    def _follow_aliases(self, endpoint: Endpoint) -> Endpoint:
        """Re-pin deployments given by alias. The write re-reads the endpoint first, so a change a
        client made since this pass read it is kept (a same-instant race remains possible)."""
        moved = []
        for dep in endpoint.deployments:
            name, _, alias = parse_model_ref(dep.model)
            if alias is not None:
                current = self.store.get_model_version_by_alias(name, alias)
                if current.version != dep.version or current.sha256 != dep.sha256:
                    self.log.info("endpoint %s: %s now %s", endpoint.name, dep.model, current.ref)
                    dep = Deployment(dep.name, dep.model, current.version, dep.traffic, current.sha256)
            moved.append(dep)
        if tuple(moved) == endpoint.deployments:
            return endpoint
        if self.store.get_endpoint(endpoint.name).deployments != endpoint.deployments:
            return self.store.get_endpoint(endpoint.name)  # changed meanwhile: next pass
        return self.store.update_endpoint(endpoint.name, deployments=tuple(moved), state="updating")

    def _config(self, endpoint: Endpoint) -> dict[str, Any]:
        deployments = []
        for dep in endpoint.deployments:
            name, _, _ = parse_model_ref(dep.model)
            try:
                version = self.store.get_model_version(name, dep.version).to_dict()
            except NotFound:
                raise MLWSError(
                    f"deployment {dep.name}: {name}:{dep.version} is no longer in the registry "
                    "(running replicas keep the model they loaded; nothing new starts)"
                ) from None
            if version["sha256"] != dep.sha256:
                raise MLWSError(f"deployment {dep.name}: {name}:{dep.version} no longer has the pinned files")
            deployments.append(
                {"name": dep.name, "traffic": dep.traffic, "version": {k: version[k] for k in VERSION_FIELDS}}
            )
        return {
            "endpoint": endpoint.name,
            "host": endpoint.host,
            "port": endpoint.port,
            "key_hashes": dict(endpoint.key_hashes),
            "max_body_bytes": endpoint.max_body_bytes,
            "timeout_seconds": endpoint.timeout_seconds,
            "artifact_url": self.artifacts.url,
            "cache_root": str(self.cache_root),
            "parent_pid": os.getpid(),
            "deployments": deployments,
            "host_policy": self.host_policy,
            "busy_poll_us": self.busy_poll_us,
            "max_file_bytes": self.max_file_bytes,
            "sandbox": sandbox_plan(
                self.workspace,
                str(getattr(self.store, "database_file", None) or "") or None,
                str(self.folder / endpoint.name),
                str(self.cache_root),
            ),
        }

    def _supervise(self, endpoint: Endpoint, run: _Running, path: Path) -> None:
        now = time.monotonic()
        for proc in list(run.procs):
            code = proc.poll()
            if code is None:
                continue
            run.procs.remove(proc)
            lived = now - run.started.pop(proc.pid, now)
            self.log.warning(
                "endpoint %s: replica %d exited (%s) after %.1fs", endpoint.name, proc.pid, code, lived
            )
            if code != 0 and lived < FAST_FAILURE_SECONDS:
                run.failures += 1
            if run.failures >= MAX_FAST_FAILURES:
                if run.failed_config != run.config:
                    run.failed_config = run.config
                    self._set_state(endpoint, "failed", self._reason(run))
        if run.failed_config is not None and run.failed_config == run.config:
            return
        run.failed_config = None
        while len(run.procs) < endpoint.replicas:
            proc = procs.spawn_replica(path)
            run.procs.append(proc)
            run.started[proc.pid] = now
        while len(run.procs) > endpoint.replicas:
            procs.stop_processes([run.procs.pop()])

    def _reason(self, run: _Running) -> str:
        """The replica's one-line `replica: cannot start: ...` message (never a traceback)."""
        from .logs import read_tail

        for line in reversed(read_tail(run.folder, 200).splitlines()):
            _, stamped, rest = line.partition("] replica: ")  # after the time and pid stamp
            message = rest if stamped else line[len("replica: ") :] if line.startswith("replica: ") else ""
            if message:
                return message[:500]
        return "the replica processes keep exiting (see the endpoint's logs: ep.logs())"

    def _read_reports(self, run: _Running) -> dict[int, dict[str, Any]]:
        """Stats files of live replicas; those of dead ones are folded into `retired`."""
        live = {p.pid for p in run.procs}
        out: dict[int, dict[str, Any]] = {}
        for file in run.folder.glob("replica-*.json"):
            data = procs.read_json(file)
            pid = int(data.get("pid", 0)) if data else 0
            if pid in live and data is not None:
                out[pid] = data
            elif not procs.pid_alive(pid) or pid == 0:
                if data is not None:
                    run.retired.append(data.get("deployments") or {})
                try:
                    file.unlink()
                except OSError:
                    pass
        return out

    def _update_state(self, endpoint: Endpoint, run: _Running, reports: dict[int, dict[str, Any]]) -> None:
        want = {d.name: d.version for d in endpoint.deployments}
        ready = [r for r in reports.values() if r.get("ready") and r.get("versions") == want]
        if endpoint.deployments and len(ready) >= endpoint.replicas and len(run.procs) == endpoint.replicas:
            self._set_state(endpoint, "running", None)
        elif endpoint.state == "running" and len(ready) < len(run.procs):
            self._set_state(endpoint, "updating", None)

    def _set_state(self, endpoint: Endpoint, state: str, reason: str | None) -> None:
        if endpoint.state != state or endpoint.state_reason != reason:
            self.store.update_endpoint(endpoint.name, state=state, state_reason=reason)

    def _publish_stats(self, endpoint: Endpoint, run: _Running, reports: dict[int, dict[str, Any]]) -> None:
        merged = stats.merge([*run.retired, *(r.get("deployments") or {} for r in reports.values())])
        summary = stats.summary(merged)
        summary["replicas_ready"] = sum(1 for r in reports.values() if r.get("ready"))
        sandboxes = [r["sandbox"] for r in reports.values() if r.get("sandbox")]
        if sandboxes:
            summary["sandbox"] = {k: v for k, v in sandboxes[0].items() if k != "tmp"}
            warnings = _sandbox_warnings(sandboxes)
            if warnings:
                summary["warnings"] = warnings
        if summary != run.last_stats:
            run.last_stats = summary
            self.store.update_endpoint(endpoint.name, stats=summary)

    def _stop_endpoint(self, name: str, *, release: bool) -> None:
        run = self.running.pop(name, None)
        if run is not None:
            procs.stop_processes(run.procs)
        if release:
            try:
                endpoint = self.store.get_endpoint(name)
                if endpoint.owner == self.owner:
                    self.store.update_endpoint(name, owner=None, owner_heartbeat=None)
            except MLWSError:
                pass

    # --- for callers ---------------------------------------------------------------------

    def replica_pids(self, name: str) -> list[int]:
        """PIDs of the replicas this manager runs for `name` (tests, `endpoints show`)."""
        run = self.running.get(name)
        return [p.pid for p in run.procs if p.poll() is None] if run else []


def _readable_by_all(cache_root: Path, folder: Path) -> None:
    """Let the replicas' user (serving/sandbox.py) read a cached model: the cache folder can be
    passed through, the model's folders listed and its files read (nothing becomes writable)."""
    cache_root.chmod(cache_root.stat().st_mode | 0o111)
    for path in (folder, *folder.rglob("*")):
        if path.is_symlink():
            continue
        extra = 0o555 if path.is_dir() else 0o444
        path.chmod(path.stat().st_mode | extra)


def _sandbox_warnings(sandboxes: list[dict[str, Any]]) -> list[str]:
    """What the replicas' sandboxes could not do (serving/sandbox.py), in words."""
    found = []
    network = sorted({s["network"] for s in sandboxes if s.get("network", "isolated") != "isolated"})
    if network:
        found.append(
            f"The replicas share this machine's network ({'; '.join(network)}): a model's code "
            "can open connections."
        )
    files = sorted({s["files"] for s in sandboxes if s.get("files", "hidden") != "hidden"})
    if files:
        found.append(f"The server's files are not hidden from the replicas ({'; '.join(files)}).")
    if any(s.get("user") == 0 for s in sandboxes):
        problems = sorted({s["user_problem"] for s in sandboxes if s.get("user_problem")})
        why = f" ({'; '.join(problems)})" if problems else " (no unprivileged user to become here)"
        found.append(f"The replicas run as root{why}.")
    return found
