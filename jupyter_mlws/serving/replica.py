"""One replica process of an endpoint: `python -m jupyter_mlws.serving.replica CONFIG.json`.

Who calls this: the EndpointManager (`serving/manager.py`) starts N of these per endpoint,
writes CONFIG.json (see `serving/config.py`) and sends SIGHUP when it changes.

What it does: binds (host, port) with SO_REUSEPORT (N replicas share the port; the kernel spreads
connections among the listening ones), enters its sandbox (`serving/sandbox.py`, RELIABILITY S3:
no network, private temp folder, limits), loads each deployment's model ONCE (`serving/state.py`:
materialize, re-hash against the manifest — RELIABILITY S6 — then the one loading gate), and only
then listens and serves (`serving/protocol.py`):
- `POST /score` with `Authorization: Bearer <key>` (checked against the key hashes, never
  echoed: 401): JSON records / split orientation, or CSV with `Content-Type: text/csv`,
  turned into a frame by `models.signature.to_frame` (mismatch → 400 naming the column);
  answer `{"predictions": [...], "deployment": "blue", "version": 3}`. Each request picks a
  deployment by the traffic weights (blue/green). Over `timeout_seconds` → 504.
- `GET /healthz` (alive) and `GET /ready` (models loaded), no key; anything else 404.
- SIGHUP: re-read the config in a thread (models already loaded are reused), then swap the
  whole state in one assignment — requests keep being answered by the old state meanwhile.
  Reloads run one at a time, each reading the file when its turn comes, so the newest config
  always wins (two close together could otherwise finish out of order).
  A config that fails to load keeps the old state and reports `reload_error`.
- SIGTERM: drain (stop accepting, finish in-flight) and exit 0. The replica also exits
  on its own when its parent (the manager) is gone.
- Every ~1 s: the stats file `replica-<pid>.json` beside the config (ready, counts and
  latency histogram per deployment, `serving/stats.py`), written atomically.

Speed (one row, p50 ≤ 1 ms): numeric JSON takes `serving/fastpath.py` (no DataFrame); the
fast-path requests that arrive in one event-loop turn are predicted in ONE model call and
answered each with its own rows (`_flush`: concurrent clients share sklearn's per-call
overhead) — only for models whose load-time probe showed that a row's answer does not depend
on the rows beside it (`FastPath.batchable`); the heap loaded at start is `gc.freeze()`d
(full collections of ~10^6 library objects were the p99). The event loop busy-polls for a
moment after each request (`serving/spin.py`): waking a slept CPU cost more than the model.

Decisions: errors answer `{"error", "message"}` and never a traceback (the traceback goes
to this process's log, which holds no key material: only hashes ever reach this process).
The predict timeout is SIGALRM (interrupts Python code, `time.sleep`, most numpy waits);
a predict stuck in C code past timeout + 5 s makes the replica exit (code 70) so the
manager recycles it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, MLWSError
from . import keys, payload
from .hosts import HostPolicy
from .protocol import HttpServer
from .state import Loaded, State, load_state
from .stats import ReplicaStats

HARD_GRACE_SECONDS = 5.0


class PredictTimeout(Exception):
    """Raised by the SIGALRM handler inside a predict that ran over its time."""


_err = payload.error
_NOT_FOUND = _err("not_found", "Unknown route: use POST /score, GET /healthz or GET /ready.")
_UNAUTHORIZED = _err("unauthorized", "Missing or invalid scoring key (Authorization: Bearer <key>).")
_BAD_HOST = _err(
    "forbidden",
    "This endpoint does not answer requests for that Host (DNS-rebinding protection): call it by "
    "127.0.0.1 or localhost, or allow remote access on the server.",
)
_OK = b'{"status": "ok"}'
_NOT_READY = _err("unavailable", "Models are not loaded yet.")
_DEFAULT_HOSTS = HostPolicy()


class Replica:
    """The request handler, the stats and the signal handling of one replica process."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.state: State | None = None
        self.stats = ReplicaStats()
        self.stats_path = config_path.parent / f"replica-{os.getpid()}.json"
        self.reload_error: str | None = None
        #: What `serving/sandbox.py` managed for this process (in the stats).
        self.sandbox: dict[str, Any] = {}
        self.server = HttpServer(self.handle, lambda: self.state.max_body if self.state else 1 << 20)
        self._in_predict = False
        self._busy_since = 0.0
        self._batch: list[tuple[Loaded, Any, float, Any]] = []
        self._stop: asyncio.Event | None = None
        # One reload at a time, each reading the file when its turn comes: two SIGHUPs close
        # together (a deploy, then a key rotation) could otherwise finish out of order and leave
        # the older config in force (a rotated key answered 401 until the next change).
        self._reloading = asyncio.Lock()

    def read_config(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.config_path.read_text())
        return config

    # --- requests ------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes, conn: Any = None
    ) -> tuple[int, bytes] | tuple[int, bytes, bytes] | None:
        state = self.state
        if not (state.hosts if state is not None else _DEFAULT_HOSTS).allows(headers.get("host")):
            return 403, _BAD_HOST
        if path == "/score":
            if method != "POST":
                return 405, _err("method_not_allowed", "Use POST /score.")
            if state is None or not state.deployments:
                return 503, _NOT_READY
            auth = headers.get("authorization", "")
            if auth[:7].lower() != "bearer " or not keys.verify(auth[7:].strip(), state.key_hashes):
                return 401, _UNAUTHORIZED
            return self._score(state, headers, body, conn)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return 200, _OK
        if path == "/ready" and method in ("GET", "HEAD"):
            return (200, _OK) if state is not None and state.deployments else (503, _NOT_READY)
        return 404, _NOT_FOUND

    def _pick(self, state: State) -> Loaded:
        deps = state.deployments
        if len(deps) == 1:
            return deps[0]
        r = random.random()
        for dep, edge in zip(deps, state.cumulative, strict=True):
            if r < edge:
                return dep
        return deps[-1]

    def _score(
        self, state: State, headers: dict[str, str], body: bytes, conn: Any
    ) -> tuple[int, bytes] | tuple[int, bytes, bytes] | None:
        started = time.perf_counter()
        dep = self._pick(state)
        status, extra = 200, b""
        try:
            if dep.predictor.raw:  # Azure ML's run(raw_data): the body as text, the answer as it is
                if not body.strip():
                    raise InvalidParameter("Empty request body.")
                out = self._predict(dep.predictor.predict, payload.text(body), state.timeout)
                answer, extra = payload.raw_answer(out), payload.raw_headers(dep.name, dep.version)
            else:
                data = payload.parse(headers, body)
                rows = dep.fast.rows(data) if dep.fast is not None and type(data) is not str else None
                # Defer to `_flush` only where another client's request could join this model
                # call: a batchable model and more than one open connection (a lone kept-alive
                # client would only pay an extra event-loop turn).
                if rows is not None and conn is not None and dep.fast.batchable and (  # type: ignore[union-attr]
                    self._batch or len(self.server.connections) > 1
                ):
                    if not self._batch:
                        asyncio.get_running_loop().call_soon(self._flush)
                    self._batch.append((dep, rows, started, conn))
                    return None
                if rows is not None:
                    out = self._predict(dep.fast.predict, rows, state.timeout)  # type: ignore[union-attr]
                else:
                    from ..models.signature import to_frame

                    out = self._predict(dep.predictor.predict, to_frame(data, dep.signature), state.timeout)
                answer = payload.predictions(out, dep.tag)
        except MLWSError as exc:
            status, answer = exc.http_status, _err(exc.code, exc.message)
        except PredictTimeout:
            status, answer = 504, _err("timeout", f"Prediction took longer than {state.timeout:g} s.")
        except Exception:
            traceback.print_exc(file=sys.stderr)
            status, answer = (
                500,
                _err("internal_error", "The model failed on this input (see the endpoint's logs)."),
            )
        self.stats.get(dep.name).record((time.perf_counter() - started) * 1000.0, status >= 500)
        return (status, answer, extra) if extra else (status, answer)

    def _flush(self) -> None:
        """Predict the fast-path requests of this event-loop turn, one model call per deployment
        (one row costs about what eight do: sklearn's per-call overhead dominates), and answer
        each with its own rows."""
        import numpy as np

        batch, self._batch = self._batch, []
        timeout = self.state.timeout if self.state else 30.0
        groups: dict[int, list[tuple[Loaded, Any, float, Any]]] = {}
        for job in batch:
            groups.setdefault(id(job[0]), []).append(job)
        for jobs in groups.values():
            dep = jobs[0][0]
            assert dep.fast is not None
            if len(jobs) == 1:
                self._answer_one(dep, jobs[0], timeout)
                continue
            try:
                out = self._predict(dep.fast.predict, np.vstack([j[1] for j in jobs]), timeout)
                values = payload.jsonable(out)
                if len(values) != sum(len(j[1]) for j in jobs):
                    raise ValueError("the model did not answer one prediction per row")
            except PredictTimeout:
                for job in jobs:
                    self._finish(job, 504, _err("timeout", f"Prediction took longer than {timeout:g} s."))
                continue
            except Exception:  # find the request that fails: one by one
                for job in jobs:
                    self._answer_one(dep, job, timeout)
                continue
            start = 0
            for job in jobs:
                end = start + len(job[1])
                part = json.dumps(values[start:end], default=payload.default).encode()
                self._finish(job, 200, b'{"predictions": ' + part + dep.tag)
                start = end

    def _answer_one(self, dep: Loaded, job: tuple[Loaded, Any, float, Any], timeout: float) -> None:
        try:
            out = self._predict(dep.fast.predict, job[1], timeout)  # type: ignore[union-attr]
            status, answer = 200, payload.predictions(out, dep.tag)
        except PredictTimeout:
            status, answer = 504, _err("timeout", f"Prediction took longer than {timeout:g} s.")
        except Exception:
            traceback.print_exc(file=sys.stderr)
            status, answer = (
                500,
                _err("internal_error", "The model failed on this input (see the endpoint's logs)."),
            )
        self._finish(job, status, answer)

    def _finish(self, job: tuple[Loaded, Any, float, Any], status: int, answer: bytes) -> None:
        dep, _, started, conn = job
        self.stats.get(dep.name).record((time.perf_counter() - started) * 1000.0, status >= 500)
        conn.finish(status, answer)

    def _predict(self, predict: Any, data: Any, timeout: float) -> Any:
        self._busy_since = time.monotonic()
        self._in_predict = True
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return predict(data)
        finally:
            self._in_predict = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._busy_since = 0.0

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self._in_predict:
            self._in_predict = False
            raise PredictTimeout()

    def _hard_watchdog(self) -> None:
        while True:
            time.sleep(0.5)
            busy, state = self._busy_since, self.state
            if busy and state and time.monotonic() - busy > state.timeout + HARD_GRACE_SECONDS:
                print("replica: predict stuck past its timeout; exiting to be restarted", file=sys.stderr)
                os._exit(70)

    # --- lifecycle -----------------------------------------------------------------------

    def write_stats(self) -> None:
        data = {
            "pid": os.getpid(),
            "ready": self.state is not None and bool(self.state.deployments),
            "versions": {d.name: d.version for d in (self.state.deployments if self.state else ())},
            "reload_error": self.reload_error,
            "sandbox": self.sandbox,
            "deployments": self.stats.to_dict(),
            "time": time.time(),
        }
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.stats_path)

    async def _reload(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._reloading:
            try:
                config = await loop.run_in_executor(None, self.read_config)
                self.state = await loop.run_in_executor(None, load_state, config, self.state)
                self.reload_error = None
                _freeze_heap()
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                self.reload_error = f"{type(exc).__name__}: {exc}"[:500]
            self.write_stats()

    async def _ticker(self, parent: int) -> None:
        assert self._stop is not None
        while True:
            await asyncio.sleep(1.0)
            if parent and os.getppid() != parent:
                print("replica: the manager is gone; stopping", file=sys.stderr)
                self._stop.set()
                return
            try:
                self.write_stats()
            except OSError:  # the endpoint's folder is gone: nobody manages this replica
                print("replica: the endpoint folder is gone; stopping", file=sys.stderr)
                self._stop.set()
                return

    async def serve(self, sock: socket.socket, parent: int) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload()))
        signal.signal(signal.SIGALRM, self._on_alarm)
        threading.Thread(target=self._hard_watchdog, name="mlws-predict-watchdog", daemon=True).start()
        await self.server.start(sock)
        self.write_stats()
        ticker = loop.create_task(self._ticker(parent))
        await self._stop.wait()
        ticker.cancel()
        await self.server.drain()
        try:
            self.write_stats()
        except OSError:
            pass


def _freeze_heap() -> None:
    """Move everything loaded so far (pandas, sklearn, the models: ~10^6 objects) out of the
    garbage collector's sight, so a full collection does not stall requests for tens of ms."""
    gc.collect()
    gc.freeze()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on (host, port) shared with the other replicas."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    from .logs import StampedStream

    sys.stdout = StampedStream(sys.stdout)  # what `ep.logs()` reads: stamped lines (serving/logs.py)
    sys.stderr = StampedStream(sys.stderr)
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_mlws.serving.replica CONFIG.json", file=sys.stderr)
        return 2
    replica = Replica(Path(args[0]).resolve())
    from . import sandbox

    try:
        config = replica.read_config()
        # the port first, in the machine's network; then the sandbox, before any model code runs
        sock = bind(config.get("host") or "127.0.0.1", int(config["port"]))
        replica.sandbox = sandbox.enter(config)
        replica.state = load_state(config)
        _freeze_heap()
    except Exception as exc:
        message = exc.message if isinstance(exc, MLWSError) else f"{type(exc).__name__}: {exc}"
        print(f"replica: cannot start: {message}", file=sys.stderr)
        return 3
    served = ", ".join(
        f"{d['name']}={d['version']['name']}:{d['version']['version']}" for d in config["deployments"]
    )
    print(f"serving {config.get('endpoint')}: {served} on port {config['port']}", file=sys.stderr)
    from .spin import DEFAULT_BUSY_POLL_US, BusyPollSelector

    spin_us = config.get("busy_poll_us")
    loop = asyncio.SelectorEventLoop(
        BusyPollSelector((DEFAULT_BUSY_POLL_US if spin_us is None else float(spin_us)) / 1e6)
    )
    try:
        loop.run_until_complete(replica.serve(sock, int(config.get("parent_pid") or 0)))
    finally:
        loop.close()
    try:
        replica.stats_path.unlink()
    except OSError:
        pass
    sandbox.leave(replica.sandbox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
