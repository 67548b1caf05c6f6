"""Warm trial processes on a node: a sweep's function trials without a process start each (issue 18).

Who calls it: the sweep's driver (`jobs/sweep_hosts.py`), through the cluster's Dask client. A
trial that is a function (a `%%mlsweep` cell is one too) need not pay a job's process start, import
and exit (~0.7 s a trial here): one process per slot runs trial after trial, as Optuna's `optimize`,
a W&B agent and Ray Tune with `reuse_actors=True` do. What stays as for any job: each trial is a
job and a child run (the driver creates them `running`, owned by its dispatcher, on this node),
its output is that job's log and its run's `logs/std_log.txt`, its `outputs/` its run's artifacts,
and a cancel (the policy's early termination, `sweep.cancel()`, `ws.jobs.cancel`) kills its process
(`kill_job`, through `node.kill_job`): the next trial gets a new one.

- `hold(host_id, spec)` is a Dask task, submitted with the trial's worker resources, so Dask places
  it on a node with room (and adaptive scaling sees it) and the slot stays taken while the sweep
  uses it. It readies the folder once (code snapshot, inputs, the pickled function: `node._prepare`),
  starts `python -m jupyter_mlws.client.trial_process FOLDER` (which dies with this worker), and returns
  when that process has exited (`release` closes its stdin; a kill ends it).
- A worker keeps one **spare** trial process (Python started, jupyter_mlws imported), started when
  one of its hosts is let go, so the next sweep's host on it skips that start-up (~0.25 s here): the
  host gives it its folder and environment. Not for a sweep with `environment_variables` (a variable
  read at interpreter start-up would be missed): its hosts start a process of their own.
- `start_trial` / `wait_trial` / `hosts_here` / `release` run in the worker through `Client.run`
  (no task, no scheduling: ~1 ms a call): hand a trial to the process; wait (asynchronously, in the
  worker's event loop) for its end; say which hosts are ready here; let a host go.
- The end of a trial, here: what the process printed (up to its end mark) closes the job's log;
  `outputs/` and a return value are uploaded; the run and the job end `completed` (or `failed` with
  the exception in words). A process that dies in a trial ends it `canceled` with the reason of the
  cancel that killed it, `canceled` "timeout after ..." past the trial's timeout, else `failed`
  with its exit code or signal.

Decision (documented in docs/sweeps.md): output written below Python's `sys.stdout` (a C library, a
subprocess) reaches the trial's log as well, since the process's own stdout and stderr are read;
state a trial leaves in its process (module globals, imports) is seen by the next trial of the same
slot, as in Optuna and Ray — `reuse_processes=False` gives every trial a process of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .node_access import LogShipper, open_workspace

#: Written by the trial process to stdout and stderr after a trial: the host's readers file what
#: came before it under that trial.
MARK = b"\x1emlws-trial-end\x1e\n"
#: The file descriptor on which the trial process answers (`client/trial_process.py`).
REPLY_FD_ENV = "MLWS_TRIAL_REPLY_FD"

#: The longest the host waits for a trial's output after its answer (its end marks).
MARK_WAIT_S = 2.0

_hosts: dict[str, _Host] = {}
_lock = threading.Lock()
#: Hosts let go before they had started here (their sweep ended first): they end as they start.
_released: set[str] = set()


class _Host:
    def __init__(self, host_id: str, spec: dict[str, Any]) -> None:
        self.id = host_id
        self.spec = spec
        self.workspace = open_workspace(spec["workspace"])
        self.folder = Path(tempfile.mkdtemp(prefix=f"mlws-trials-{host_id[:8]}-"))
        self.state = "starting"
        self.error: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.cond = threading.Condition()
        self.current: dict[str, Any] | None = None  # the trial running, until its end is taken
        self.busy = False  # a trial runs or is being ended (its outputs uploaded)
        self.shipper: LogShipper | None = None
        self.marks: set[str] = set()
        self.canceled: str | None = None
        self.timer: threading.Timer | None = None
        self.answers: threading.Thread | None = None
        self.env: dict[str, str] | None = None
        self.from_spare = False
        self.results: dict[int, dict[str, Any]] = {}
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    # ----- the process -------------------------------------------------------------------------
    def start(self, spare_ok: bool = True) -> None:
        from .node import _prepare

        if self.env is None:
            _, env = _prepare(self.workspace, {**self.spec, "kind": "function"}, self.folder)
            env.pop("MLWS_RUN_ID", None)
            env.pop("MLWS_JOB_ID", None)
            self.env = env
        env = self.env
        # a spare process (Python started, jupyter_mlws imported) when the trial's environment is
        # the worker's own: variables read at interpreter start-up would otherwise be missed
        spare = _take_spare() if spare_ok and not self.spec.get("environment_variables") else None
        self.from_spare, self.error = spare is not None, None
        if spare is not None:
            self.proc, reply = spare
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"folder": str(self.folder), "env": env}).encode() + b"\n")
            self.proc.stdin.flush()
        else:
            self.proc, reply = _spawn([str(self.folder)], env, self.folder)
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(
                target=self._pump, args=(pipe, stream), daemon=True, name="mlws-trial-out"
            ).start()
        self.answers = threading.Thread(
            target=self._answers, args=(reply,), daemon=True, name="mlws-trial-answers"
        )
        self.answers.start()

    def _pump(self, pipe: Any, stream: str) -> None:
        for raw in iter(pipe.readline, b""):
            text = raw[: -len(MARK)] if raw.endswith(MARK) else raw
            with self.cond:
                if text and self.shipper is not None:
                    self.shipper.add(stream, text.decode("utf-8", errors="replace"))
                if raw.endswith(MARK):
                    self.marks.add(stream)
                    self.cond.notify_all()
        pipe.close()

    def _answers(self, pipe: Any) -> None:
        for raw in iter(pipe.readline, b""):
            answer = json.loads(raw)
            if "ready" in answer:
                self._set_state("ready")
                continue
            with self.cond:
                self.cond.wait_for(lambda: len(self.marks) == 2, timeout=MARK_WAIT_S)
            ok = bool(answer.get("ok"))
            self._finish(
                "completed" if ok else "failed", None if ok else str(answer.get("error")), 0 if ok else 1
            )
        pipe.close()

    def wait(self) -> int:
        """Until the process exits; a trial it was running ends with it (module docstring)."""
        assert self.proc is not None
        code = self.proc.wait()
        if self.answers is not None:  # its last answer, if it gave one, is read (the pipe's end)
            self.answers.join(timeout=0.5)
        if self.current is not None:
            if self.canceled is not None:
                self._finish("canceled", self.canceled, code)
            else:
                why = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
                self._finish("failed", f"the trial's process ended: {why}", code)
        if self.state == "starting":
            self.error = f"the trial process ended before it was ready (exit code {code})"
        return code

    # ----- trials ------------------------------------------------------------------------------
    def begin(self, order: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with self.cond:
            self.current = order
            self.busy = True
            self.canceled = None
            self.marks = set()
            self.shipper = LogShipper(self.workspace.store, order["job_id"], int(order["attempt"]))
        timeout = self.spec.get("timeout_seconds")
        if timeout:
            self.timer = threading.Timer(
                float(timeout), self.kill, args=(f"timeout after {float(timeout):g} s (the job's timeout)",)
            )
            self.timer.daemon = True
            self.timer.start()
        line = json.dumps({"n": order["n"], "run_id": order["run_id"], "kwargs": order["kwargs"]})
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self, reason: str) -> bool:
        from .node import kill_tree

        if self.proc is None or self.current is None:
            return False
        self.canceled = reason
        kill_tree(self.proc)
        return True

    def _finish(self, state: str, reason: str | None, code: int | None) -> None:
        """The trial's end: its log, outputs and return value uploaded, its run and job ended."""
        from ..errors import Conflict

        with self.cond:  # taken once: the answer and the process's death may both end a trial
            order, shipper = self.current, self.shipper
            self.current, self.shipper = None, None
        if order is None:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        store, run_id = self.workspace.store, order["run_id"]
        if shipper is not None:
            shipper.close()
        try:
            outputs = self.folder / "outputs"
            if outputs.is_dir() and any(outputs.iterdir()):
                self.workspace.upload_folder(run_id, outputs, "outputs")
            result = self.folder / "job" / "result.pkl"
            if result.exists() and state == "completed":
                self.workspace.upload(run_id, result, "job/result.pkl")
            text = shipper.text() if shipper is not None else ""
            if text:
                log_file = self.folder / "job" / "std_log.txt"
                log_file.write_text(text)
                self.workspace.upload(run_id, log_file, "logs/std_log.txt")
        except Exception as err:
            reason = "; ".join(filter(None, [reason, f"outputs not uploaded: {err}"]))
        now = int(time.time() * 1000)
        try:
            store.update_run(run_id, status=state, end_time=now, status_reason=reason)
        except Conflict:
            pass  # ended meanwhile: that ending stands
        try:
            store.update_job(
                order["job_id"],
                expect={"attempt": int(order["attempt"]), "state": "running"},
                state=state,
                state_reason=reason,
                exit_code=code,
                ended_time=now,
            )
        except Conflict:
            pass  # the dispatcher recorded the node lost, or the job moved on
        with self.cond:
            self.busy = False
            self.results[int(order["n"])] = {"n": order["n"], "state": state, "reason": reason}
        self._notify()

    def _set_state(self, state: str) -> None:
        with self.cond:
            self.state = state
        self._notify()

    def _notify(self) -> None:
        with self.cond:
            waiters, self.waiters = self.waiters, []
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # that loop is closed


# ----- processes, and the spare -------------------------------------------------------------------
def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], Any]:
    """Start `python -m jupyter_mlws.client.trial_process ARGS`; the process and its answer pipe.
    Called from a Dask task's thread (long-lived): the process dies with the worker (Linux)."""
    from .node import _die_with_parent

    read_fd, write_fd = os.pipe()
    env = {**env, REPLY_FD_ENV: str(write_fd)}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlws.client.trial_process", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return proc, os.fdopen(read_fd, "rb")


_spare: dict[str, Any] = {}


def _start_spare() -> None:
    """Have one spare trial process on this worker for the next sweep (started when a host is let
    go, so its start-up is in nobody's time): Python started and jupyter_mlws imported, waiting for
    its folder and environment (`client/trial_process.py --spare`)."""
    with _lock:
        found = _spare.get("proc")
        if found is not None and found[0].poll() is None:
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "DASK_"))}
        env["PYTHONUNBUFFERED"] = "1"
        where = Path(tempfile.mkdtemp(prefix="mlws-trials-spare-"))  # empty: nothing to import from
        _spare["proc"] = (*_spawn(["--spare", str(where)], env, where), where)


def _take_spare() -> tuple[subprocess.Popen[bytes], Any] | None:
    with _lock:
        found = _spare.pop("proc", None)
    if found is None:
        return None
    proc, reply, where = found
    if proc.poll() is not None:
        reply.close()
        shutil.rmtree(where, ignore_errors=True)
        return None
    return proc, reply  # (it removes its empty start-up folder itself once it has its own)


# ----- what the driver calls -------------------------------------------------------------------
def hold(host_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Dask task: start the host's process, and hold its slot until the process has exited."""
    host = _Host(host_id, spec)
    with _lock:
        _hosts[host_id] = host
    try:
        try:
            host.start()
        except Exception as err:
            host.error = f"could not start the trial process: {type(err).__name__}: {err}"
            host._set_state("gone")
            raise
        with _lock:
            let_go = host_id in _released
            _released.discard(host_id)
        if let_go:
            release(host_id)
        code = host.wait()
        if host.from_spare and host.state == "starting":  # the spare died unready: once more, cold
            host.start(spare_ok=False)
            code = host.wait()
        host._set_state("gone")
        try:
            _start_spare()  # for the next sweep on this worker
        except Exception:
            pass  # it starts cold then
        return {"host": host_id, "exit_code": code, "error": host.error}
    finally:
        with _lock:
            _hosts.pop(host_id, None)
        shutil.rmtree(host.folder, ignore_errors=True)


def hosts_here(host_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The state of each of `host_ids` on this worker: starting, ready (with its pid) or gone."""
    found = {}
    for host_id in host_ids:
        host = _hosts.get(host_id)
        if host is not None:
            pid = host.proc.pid if host.proc is not None else None
            found[host_id] = {"state": host.state, "pid": pid, "error": host.error}
    return found


def start_trial(host_id: str, order: dict[str, Any]) -> str | None:
    """Hand a trial (n, run_id, job_id, attempt, kwargs) to the host; None, or why it could not."""
    host = _hosts.get(host_id)
    if host is None or host.state != "ready":
        return f"the trial process {host_id} is {'gone' if host is None else host.state}"
    if host.busy:
        return f"the trial process {host_id} is busy with another trial"
    try:
        host.begin(order)
    except (OSError, ValueError) as err:
        with host.cond:
            host.current, host.busy = None, False
        return f"the trial process {host_id} did not take the trial: {err}"
    return None


async def wait_trial(host_id: str, n: int, timeout: float) -> dict[str, Any] | None:
    """Trial `n`'s end on this host ({n, state, reason}), {"state": "gone"} when the host is gone
    without an answer for it, or None when `timeout` seconds passed first."""
    host = _hosts.get(host_id)
    if host is None:
        return {"n": n, "state": "gone", "reason": "the trial process is gone"}
    event = asyncio.Event()
    with host.cond:
        done = host.results.pop(n, None)
        if done is not None:
            return done
        if host.state == "gone":
            return {"n": n, "state": "gone", "reason": host.error or "the trial process is gone"}
        host.waiters.append((asyncio.get_running_loop(), event))
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    with host.cond:
        done = host.results.pop(n, None)
        if done is None and host.state == "gone":
            return {"n": n, "state": "gone", "reason": host.error or "the trial process is gone"}
        return done


def release(host_id: str) -> bool:
    """Let the host's process go (its stdin closed: it exits between trials)."""
    with _lock:
        host = _hosts.get(host_id)
        if host is None or host.proc is None:
            _released.add(host_id)  # not started here yet (or not here): it ends once it has
            if len(_released) > 10_000:
                _released.clear()
            return False
    if host.proc.stdin is None:
        return False
    try:
        host.proc.stdin.close()
    except OSError:
        pass
    return True


def kill_job(job_id: str, reason: str) -> bool:
    """`node.kill_job` for a trial a host on this worker runs: kill its process; True when found."""
    with _lock:
        hosts = list(_hosts.values())
    for host in hosts:
        current = host.current
        if current is not None and current.get("job_id") == job_id:
            return host.kill(reason)
    return False
