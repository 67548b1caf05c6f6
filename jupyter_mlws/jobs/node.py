"""What runs on a cluster's node for one job attempt: a Dask task that supervises a process.

Who calls this: the dispatcher (`jobs/dispatcher.py`) submits `run_job(spec)` to the cluster's Dask
scheduler, which runs it on a worker (a node); `kill_job(job_id)` reaches the same worker through
`Client.run` when the job is canceled. Dask cannot stop a running task (dask/distributed#4694), so
the job's code never runs inside the worker: it runs in a child process we can kill.

How a node reaches the workspace and how output is shipped to the store: `jobs/node_access.py`.

Steps of `run_job`:
1. Open the workspace: the store and artifact URLs when they are reachable from this node (the
   same machine), else the workspace URL and token (issue "Log from anywhere").
2. Claim the attempt: `update_job(expect={"state": "queued", "attempt": n})` — exactly once, even
   when Dask runs the task again after a worker was lost (the dispatcher has then already recorded
   the loss); the attempt's run goes `running`.
3. Materialize a fresh folder: the code snapshot (content-addressed, `store/snapshot_files.py`), the
   inputs under `inputs/<name>` (their paths in `$MLWS_INPUT_<NAME>` and `${{inputs.<name>}}` of
   the command), an empty `outputs/`.
4. Start the process in a session of its own (its whole tree can be signalled), with
   `$MLWS_RUN_ID`, the workspace's location and the user's variables. stdout and stderr are read
   line by line and shipped to the store's job log at most `SHIP_SECONDS` apart (live readers are
   under 0.5 s behind).
5. Wait for it, or for the timeout (the tree is killed: `canceled` with "timeout after ..."), or a
   cancel (`kill_job`: SIGTERM to the tree, SIGKILL 0.5 s later: `canceled`).
6. Upload `outputs/` as the run's artifacts (as Azure ML does), the whole output as
   `logs/std_log.txt`, a function's return value as `job/result.pkl`; end the run and the job with
   the exit code and the reason in words.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..entities import RunStatus
from .node_access import LOG_ARTIFACT_MAX as LOG_ARTIFACT_MAX
from .node_access import SHIP_SECONDS as SHIP_SECONDS
from .node_access import URL_ONLY_ENV as URL_ONLY_ENV
from .node_access import LogShipper as LogShipper
from .node_access import NodeWorkspace as NodeWorkspace
from .node_access import open_workspace as open_workspace

#: Grace between SIGTERM and SIGKILL of a canceled job's processes.
KILL_GRACE = 0.4

_procs: dict[str, subprocess.Popen[bytes]] = {}
_canceled: dict[str, str] = {}
_lock = threading.Lock()


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one attempt of a job on this node (see the module docstring); returns what happened."""
    from ..errors import Conflict

    workspace = open_workspace(spec["workspace"])
    store = workspace.store
    job_id, attempt, run_id = spec["job_id"], int(spec["attempt"]), spec["run_id"]
    node = _node_name()
    try:
        store.update_job(
            job_id,
            expect={"state": "queued", "attempt": attempt},
            state="running",
            node=node,
            started_time=int(time.time() * 1000),
        )
    except Conflict:
        return {"job_id": job_id, "attempt": attempt, "skipped": "not queued any more"}
    store.update_run(run_id, status=RunStatus.RUNNING)
    folder = Path(tempfile.mkdtemp(prefix=f"mlws-job-{job_id[:8]}-"))
    shipper = LogShipper(store, job_id, attempt)
    try:
        try:
            argv, env = _prepare(workspace, spec, folder)
        except Exception as err:  # a snapshot or an input that cannot be materialized
            shipper.add("stderr", f"jupyter_mlws: could not prepare the job: {err}\n")
            shipper.close()
            return _finish(workspace, spec, folder, shipper, "failed", None, f"could not prepare: {err}")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                shell=bool(spec.get("shell")),
            )
        except OSError as err:
            shipper.add("stderr", f"jupyter_mlws: could not start {argv[0]!r}: {err}\n")
            shipper.close()
            return _finish(workspace, spec, folder, shipper, "failed", None, f"could not start: {err}")
        with _lock:
            _procs[job_id] = proc
        try:
            store.update_job(job_id, pid=proc.pid)
        except Exception:
            pass
        readers = [
            threading.Thread(target=shipper.pump, args=(proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=shipper.pump, args=(proc.stderr, "stderr"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        timeout = spec.get("timeout_seconds")
        timed_out = False
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc)
            code = proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        shipper.close()
        with _lock:
            _procs.pop(job_id, None)
            canceled = _canceled.pop(job_id, None)
        if canceled is not None:
            return _finish(workspace, spec, folder, shipper, "canceled", code, canceled)
        if timed_out:
            return _finish(
                workspace,
                spec,
                folder,
                shipper,
                "canceled",
                code,
                f"timeout after {timeout:g} s (the job's timeout)",
            )
        if code == 0:
            return _finish(workspace, spec, folder, shipper, "completed", code, None)
        reason = f"exit code {code}" if code > 0 else f"killed by signal {-code} ({_signal_name(-code)})"
        return _finish(workspace, spec, folder, shipper, "failed", code, reason)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def kill_job(job_id: str, reason: str = "canceled") -> bool:
    """End the job's whole process tree on this node (run by `Client.run` on its worker)."""
    with _lock:
        proc = _procs.get(job_id)
        if proc is None:
            from .trial_host import kill_job as kill_trial

            return kill_trial(job_id, reason)  # a sweep's trial on a warm process of this node
        _canceled[job_id] = reason
    kill_tree(proc)
    return True


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process, its session and every descendant; SIGKILL what is left `KILL_GRACE` later.
    Descendants are listed first: a kernel started by nbclient lives in a session of its own."""
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    _signal_all(proc, family, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=KILL_GRACE)
    try:
        proc.wait(timeout=0 if not alive else 0.01)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None or alive:
        _signal_all(proc, alive, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=1)


def _signal_all(proc: subprocess.Popen[bytes], family: list[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for child in family:
        try:
            child.send_signal(sig)
        except Exception:
            pass


def _prepare(workspace: Any, spec: dict[str, Any], folder: Path) -> tuple[list[str] | str, dict[str, str]]:
    """Materialize code and inputs in `folder`; the argv and environment of the job's process."""
    from ..location import ARTIFACT_URL_ENV, STORE_URL_ENV

    snapshot_run = spec.get("snapshot_run")
    if snapshot_run:
        from ..store.snapshot_files import restore_files

        restore_files(workspace.artifacts, snapshot_run, folder, history=False)
    (folder / "outputs").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "DASK_"))}
    env.update({str(k): str(v) for k, v in (spec.get("environment_variables") or {}).items()})
    inputs: dict[str, str] = {}
    for name, given in (spec.get("inputs") or {}).items():
        if given.get("data"):
            from ..models.files import cache_root, materialize

            version = workspace.store.get_data_version(given["data"], int(given["version"]))
            inputs[name] = str(
                materialize(workspace.artifacts, version, cache_root(workspace.location, "data-cache"))
            )
        elif given.get("uploaded"):
            target = folder / "inputs" / name
            workspace.artifacts.download(spec["inputs_run"], f"inputs/{name}", folder)
            inputs[name] = str(target / given["file"]) if given.get("file") else str(target)
        else:
            inputs[name] = str(given["uri"])
        env[f"MLWS_INPUT_{name.upper()}"] = inputs[name]
    location = workspace.location
    if workspace.is_remote:
        env["MLWS_WORKSPACE"] = workspace.where["url"]
        if workspace.where.get("token"):
            env["MLWS_TOKEN"] = workspace.where["token"]
    else:
        env[STORE_URL_ENV] = location.store_url
        env[ARTIFACT_URL_ENV] = location.artifact_url
    env["MLWS_RUN_ID"] = spec["run_id"]
    env["MLWS_JOB_ID"] = spec["job_id"]
    env["MLWS_COMPUTE_TARGET"] = spec.get("target", "")
    env["PYTHONUNBUFFERED"] = "1"
    kind = spec["kind"]
    if kind == "command":
        command = spec["command"]
        if isinstance(command, str):
            return _substitute(command, inputs), env
        argv = [_substitute(a, inputs) for a in command]
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable  # the workspace's Python, as in a kernel of this workspace
        return argv, env
    child = [sys.executable, "-m", "jupyter_mlws.jobs.child", kind, str(folder)]
    if kind in ("function", "cell"):
        workspace.artifacts.download(spec["run_id_payload"], "job/payload.pkl", folder)
        if spec.get("kwargs"):  # a sweep's trial: its values, as keyword arguments of the function
            (folder / "job" / "kwargs.json").write_text(json.dumps(spec["kwargs"]))
        return child, env
    if kind == "notebook":
        return [*child, spec["notebook"], json.dumps(spec.get("parameters") or {})], env
    raise ValueError(f"unknown job kind {kind!r}")


_INPUT_REF = re.compile(r"\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _substitute(text: str, inputs: dict[str, str]) -> str:
    """`${{inputs.data}}` (Azure ML's syntax) becomes the input's path on this node."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in inputs:
            raise ValueError(f"the command names input {name!r}, which the job does not have")
        return inputs[name]

    return _INPUT_REF.sub(one, text)


def _finish(
    workspace: Any,
    spec: dict[str, Any],
    folder: Path,
    shipper: LogShipper,
    state: str,
    code: int | None,
    reason: str | None,
) -> dict[str, Any]:
    """Upload outputs and logs, end the run and the job; what happened, for the dispatcher."""
    from ..errors import Conflict

    run_id = spec["run_id"]
    notes = []
    try:
        outputs = folder / "outputs"
        if outputs.is_dir() and any(outputs.iterdir()):
            workspace.upload_folder(run_id, outputs, "outputs")
        result = folder / "job" / "result.pkl"
        if result.exists():
            workspace.upload(run_id, result, "job/result.pkl")
        executed = folder / "job" / "executed.ipynb"
        if executed.exists():
            workspace.upload(run_id, executed, f"outputs/{Path(spec.get('notebook', 'notebook.ipynb')).name}")
        error = folder / "job" / "error.txt"
        if error.exists() and state == "failed":
            reason = error.read_text(errors="replace").strip()[:2000] or reason
        log_file = folder / "job" / "std_log.txt"
        log_file.parent.mkdir(exist_ok=True)
        log_file.write_text(shipper.text())
        workspace.upload(run_id, log_file, "logs/std_log.txt")
    except Exception as err:
        notes.append(f"outputs not uploaded: {err}")
    if notes:
        reason = "; ".join(filter(None, [reason, *notes]))
    try:
        workspace.store.update_run(
            run_id, status=state, end_time=int(time.time() * 1000), status_reason=reason
        )
    except Conflict:
        pass  # ended meanwhile (the run's own code, or the dispatcher): its ending stands
    ended = int(time.time() * 1000)
    try:
        workspace.store.update_job(
            spec["job_id"],
            expect={"attempt": int(spec["attempt"]), "state": "running"},
            state=state,
            state_reason=reason,
            exit_code=code,
            ended_time=ended,
        )
    except Conflict:
        pass  # the dispatcher recorded the node lost or the job moved on
    return {
        "job_id": spec["job_id"],
        "attempt": spec["attempt"],
        "state": state,
        "exit_code": code,
        "reason": reason,
    }


def _node_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"


def _die_with_parent() -> None:
    """In the child before exec: die when the worker that supervises it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
