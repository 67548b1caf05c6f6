"""Jobs benchmark (issue 15, item 6): jobs on a training cluster beside raw Dask and Ray Jobs.

How fast a job reaches a node, ends, is stopped, and how fast an idle node goes, beside raw Dask
(the floor) and Ray Jobs in the same run.

Run: `python benchmarks/bench_jobs.py [--samples 50] [--jobs 200] [--no-ray] [--no-write]`.

Three sides, one after another on the same machine:
- raw Dask, the floor: `client.submit` of a function that runs `subprocess.run([python, "-c",
  "pass"])`, on a `LocalCluster` in this process with the same shape and the same adaptive
  settings as ours (worker processes on 127.0.0.1, 1 thread each, `adapt(0, 2)` with the same
  interval and wait count that `compute/dask_clusters.py` derives from the idle time).
- ours: a Jupyter server (`tests/lab_server.py`, `app="server"`) on a temp workspace, a cluster
  `cpu` (0..2 nodes of 1 CPU, `idle_seconds_before_scaledown` 60 s, set to `--idle` by
  `ws.compute.update_cluster` before the retire figure; raw Dask re-adapts alike), and
  `ws.jobs.submit(command=["python", "-c", "pass"], target="cpu")` from this process through the
  workspace URL, the normal path (the server owns the cluster and dispatches). Also, as a note,
  a local folder workspace with no server, whose dispatcher and LocalCluster live in this process.
- Ray Jobs: `JobSubmissionClient.submit_job(entrypoint="python -c pass")` to a local Ray head
  (`ray start --head --include-dashboard=true`, everything it can bind on 127.0.0.1), driven by a
  script run with the Python of a venv of its own (`--ray-venv`, default `.venv-ray` at the repo
  root, git-ignored), created with `ray[default]` on first use; never the test venv. Ray starts
  after our server and clusters are stopped (its daemons would otherwise take CPU from ours on
  2 cores), and its processes are ended by PID at the end: the `ray start --block` process, its
  descendants and its session, never `ray stop` (which ends every Ray process on the machine).

How each figure is taken (times are `time.time()` of this machine, every process on it):
- submit -> running: raw Dask: from just before `client.submit` to the first line of the task.
  Ours: from just before `ws.jobs.submit(...)` (the client's checks, the run, the queue entry,
  all through REST, included) to the job's `started_time`, which the node writes when it claims
  the job, just before it starts the process; the store's own `started_time - submitted_time`
  (queue entry to claim) is printed beside it. Ray: from just before `submit_job` to the first
  `get_job_status` poll (every `RAY_POLL` s) that is no longer PENDING (Ray records no start time).
  Warm = a node already up; `--samples` samples, raw Dask and ours alternating.
- submit -> completed: raw Dask: until `future.result()` returned; ours: the job's `ended_time`
  (written by the node with the state `completed`); Ray: the job's `end_time`.
- first job from 0 nodes: the cluster is running with no node (it scaled down to 0 after the
  retire figure below); submit -> running as above. Also the first job of all, when the cluster
  is not started yet (LocalCluster start + first node).
- `--jobs` tiny jobs end to end: all submitted in a loop, then waited for; jobs/s = jobs / (from
  the first submit to the moment all are seen completed). Ray: `--ray-jobs` jobs, the same way.
- cancel -> process gone: a job runs `time.sleep(60)`; once its pid is recorded (and 0.3 s more),
  the cancel is asked for (`job.cancel(wait=0)`; Ray: `stop_job`) and the pid is polled every
  2 ms until no process (or only a zombie) has it. Raw Dask has no such thing (a running task
  cannot be stopped: dask/distributed#4694).
- idle -> node retired: for each node, from the end of the last job it ran to the moment the
  scheduler no longer lists it (polled every 50 ms with a Dask client), counted from when the
  short idle time was set for a node whose last job ended before that; for ours also the
  server's recorded `node_removed` event (`ws.store.list_compute_events`), which it writes from
  a look every 0.5 s.

Targets (issue 15): warm submit -> running p95 <= 50 ms and <= 20 ms over raw Dask at p50; first
job from 0 nodes <= 3 s; cancel <= 1 s; retire <= idle + 5 s; >= 10x Ray Jobs on submit ->
running. The table and pass/fail per target are printed and appended to `benchmarks/RESULTS.md`
(unless `--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.lab_server import free_port, start_lab  # noqa: E402

CLUSTER = "cpu"
COMMAND = ["python", "-c", "pass"]
SLEEPER = ["python", "-c", "import time; time.sleep(60)"]
RAY_POLL = 0.01
#: The idle time while the warm figures are taken. With Dask's adapt, a node is retired after
#: `wait_count` looks in a row that find it idle, even when it ran jobs between the looks: with
#: 2 s (4 looks) the node of the warm series was retired mid-series in a trial run here.
WARM_IDLE = 60.0


# ----- small helpers ---------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def alive(pid: int) -> bool:
    """True while a process with this pid exists and is not a zombie waiting to be reaped."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(every)


def adapt_settings(idle: float) -> dict[str, Any]:
    """The `adapt` arguments our LocalCluster gets for this idle time (compute/dask_clusters.py)."""
    interval = 0.5 if idle <= 60 else 1.0
    return {"interval": f"{interval}s", "wait_count": max(1, math.ceil(idle / interval))}


def ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


# ----- raw Dask: the floor ---------------------------------------------------------------------
def raw_task() -> tuple[float, float, str]:
    """Runs on a Dask worker: the same subprocess a job runs; (started, ended, worker)."""
    import subprocess
    import sys
    import time

    from distributed import get_worker

    began = time.time()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return began, time.time(), get_worker().address


class RawDask:
    """A LocalCluster like ours (0..2 workers of 1 thread, same adapt settings) and its client."""

    def __init__(self, idle: float) -> None:
        """`idle`: the idle time while the warm figures are taken (`short_idle` sets the retire one)."""
        from distributed import Client, LocalCluster

        began = time.time()
        self.cluster = LocalCluster(
            n_workers=0,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        self.cluster.adapt(minimum=0, maximum=2, **adapt_settings(idle))
        self.client = Client(self.cluster, set_as_default=False)
        started, _, _ = self.client.submit(raw_task, pure=False).result(timeout=120)
        self.cold = started - began  # LocalCluster start + first node + first task start

    def once(self) -> dict[str, float]:
        t0 = time.time()
        future = self.client.submit(raw_task, pure=False)
        started, _, _ = future.result(timeout=120)
        done = time.time()
        return {"running": started - t0, "completed": done - t0}

    def burst(self, n: int) -> dict[str, Any]:
        t0 = time.time()
        futures = [self.client.submit(raw_task, pure=False) for _ in range(n)]
        results = self.client.gather(futures)
        took = time.time() - t0
        last: dict[str, float] = {}
        for _, ended, worker in results:
            last[worker] = max(last.get(worker, 0.0), ended)
        return {"jobs_per_s": n / took, "seconds": took, "last_end": last}

    def workers(self) -> set[str]:
        return set(self.client.scheduler_info(n_workers=-1)["workers"])

    def short_idle(self, idle: float) -> float:
        """Re-adapt with the idle time of the retire figure (as ours re-adapts on an update); when."""
        self.cluster.adapt(minimum=0, maximum=2, **adapt_settings(idle))
        return time.time()

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def retire_times(
    workers: Callable[[], set[str]], last_end: dict[str, float], since: float, timeout: float
) -> dict[str, float]:
    """For each node, seconds from its last job's end (or from `since`, when the short idle time
    was set, if later) to the scheduler no longer listing it."""
    gone: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(gone) < len(last_end) and time.monotonic() < deadline:
        now_workers, now = workers(), time.time()
        for worker, ended in last_end.items():
            if worker not in gone and worker not in now_workers:
                gone[worker] = now - max(ended, since)
        time.sleep(0.05)
    if len(gone) < len(last_end):
        raise RuntimeError(f"nodes still up {timeout:g} s after their last job: {set(last_end) - set(gone)}")
    return gone


# ----- ours --------------------------------------------------------------------------------------
class CallTimes:
    """Times every public method of a store while `on` (which REST calls one `submit()` makes);
    only the outermost call counts (`log_params` sends through `log_batch`, which is not counted)."""

    def __init__(self, store: Any) -> None:
        import inspect

        self.on = False
        self.depth = 0
        self.calls: dict[str, list[float]] = {}
        for name in dir(type(store)):
            if not name.startswith("_") and inspect.isfunction(inspect.getattr_static(type(store), name)):
                setattr(store, name, self._timed(name, getattr(store, name)))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on or self.depth:
                return method(*args, **kwargs)
            self.depth += 1
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls.setdefault(name, []).append(time.perf_counter() - began)
                self.depth -= 1

        return timed

    def summary(self, submits: int) -> str:
        parts = [
            f"`{name}` {len(t) / submits:g}x {statistics.median(t) * 1000:.1f} ms"
            for name, t in sorted(self.calls.items(), key=lambda kv: -sum(kv[1]))
        ]
        return ", ".join(parts)


def ours_once(ws: Any, command: list[str] = COMMAND, timer: CallTimes | None = None) -> dict[str, Any]:
    """One job through `ws.jobs`; the times described in the module docstring."""
    t0 = time.time()
    if timer is not None:
        timer.on = True
    job = ws.jobs.submit(command=command, target=CLUSTER, experiment="bench")
    returned = time.time()
    if timer is not None:
        timer.on = False
    job.wait(timeout=180)
    record = job.record
    if record.state != "completed":
        raise RuntimeError(f"job {record.job_id} ended {record.state}: {record.state_reason}")
    return {
        "running": record.started_time / 1000 - t0,
        "queue_to_claim": (record.started_time - record.submitted_time) / 1000,
        "completed": record.ended_time / 1000 - t0,
        "submit_call": returned - t0,
        "node": record.node,
    }


def ours_burst(ws: Any, n: int) -> dict[str, Any]:
    t0 = time.time()
    handles = [ws.jobs.submit(command=COMMAND, target=CLUSTER, experiment="bench-burst") for _ in range(n)]
    submitted = time.time() - t0
    for handle in handles:
        handle.wait(timeout=600)
    took = time.time() - t0
    states = [h.record.state for h in handles]
    if any(s != "completed" for s in states):
        raise RuntimeError(f"burst: {sum(s != 'completed' for s in states)} of {n} jobs did not complete")
    return {"jobs_per_s": n / took, "seconds": took, "submit_seconds": submitted}


def ours_cancel(ws: Any) -> dict[str, float]:
    job = ws.jobs.submit(command=SLEEPER, target=CLUSTER, experiment="bench-cancel")
    record = until(lambda: (r := job.refresh()).state == "running" and r.pid and r, 120, "the job running")
    pid = int(record.pid)
    time.sleep(0.3)  # the process is in its sleep, not starting up
    if not alive(pid):
        raise RuntimeError(f"job {job.id}: process {pid} is not there")
    t0 = time.perf_counter()
    job.cancel(wait=0)
    while alive(pid):
        time.sleep(0.002)
    gone = time.perf_counter() - t0
    until(lambda: job.status == "canceled", 30, "the job recorded canceled")
    return {"gone": gone, "recorded": time.perf_counter() - t0}


def ours_retire(ws: Any, idle: float, since: float) -> dict[str, Any]:
    """From each node's last job end (or `since`) to its removal (Dask's view, and the recorded event)."""
    last_end: dict[str, float] = {}
    for job in ws.store.list_jobs(target=CLUSTER, limit=1000):
        if job.node and job.ended_time:
            last_end[job.node] = max(last_end.get(job.node, 0.0), job.ended_time / 1000)
    client = ws.compute.dask_client(CLUSTER)
    try:
        up = set(client.scheduler_info(n_workers=-1)["workers"])
        last_end = {w: t for w, t in last_end.items() if w in up}
        if not last_end:
            raise RuntimeError("no node of the cluster is up to watch retire")
        gone = retire_times(
            lambda: set(client.scheduler_info(n_workers=-1)["workers"]), last_end, since, idle + 60
        )
        until(lambda: not client.scheduler_info(n_workers=-1)["workers"], 60, "the cluster at 0 nodes", 0.05)
    finally:
        client.close()
    time.sleep(1.0)  # the server's node watch looks every 0.5 s
    events = {
        e.details.get("node"): e.time / 1000
        for e in ws.store.list_compute_events(CLUSTER, kind="node_removed", limit=1000)
    }
    recorded = {w: events[w] - max(last_end[w], since) for w in last_end if w in events}
    return {"dask": gone, "recorded": recorded}


def in_process(folder: Path, samples: int, idle: float) -> dict[str, Any]:
    """The same warm figure on a local workspace with no server: this process dispatches."""
    import jupyter_mlws as mlws
    from jupyter_mlws.client.jobs import stop_local_dispatchers

    ws = mlws.Workspace(folder)
    try:
        ws.compute.create_cluster(
            CLUSTER, min_nodes=0, max_nodes=2, node={"cpus": 1}, idle_seconds_before_scaledown=max(idle, 30)
        )
        cold = ours_once(ws)
        for _ in range(3):
            ours_once(ws)
        warm = [ours_once(ws) for _ in range(samples)]
        return {"cold": cold["running"], "warm": warm}
    finally:
        stop_local_dispatchers()
        ws.close()


# ----- Ray Jobs ----------------------------------------------------------------------------------
def ray_python(venv: Path) -> Path:
    """The Python of the Ray venv, created with `ray[default]` on first use."""
    python = venv / "bin" / "python"
    marker = venv / ".bench-ray-installed"
    if not marker.exists():
        print(f"Creating {venv} with ray[default] (first use only; takes minutes) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "ray[default]"], check=True)
        marker.write_text("ray[default]\n")
    return python


def ray_env(python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # jobs' `python` is the venv's
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def start_ray(python: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`ray start --head --block` in a session of its own; (process, dashboard URL, log)."""
    dashboard = free_port()
    log_path = folder / "ray-start.log"
    argv = [
        str(python.parent / "ray"),
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        "--include-dashboard=true",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--port={free_port()}",
        f"--ray-client-server-port={free_port()}",
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        "--num-cpus=2",
        "--object-store-memory=200000000",
        f"--temp-dir={folder / 'ray'}",
    ]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ray_env(python),
            start_new_session=True,
            cwd=folder,
        )
    url = f"http://127.0.0.1:{dashboard}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/version", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url, log_path
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_ray(proc)
            raise RuntimeError(f"the Ray head did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def ray_family(proc: subprocess.Popen[bytes]) -> list[Any]:
    """The processes the Ray head start made: descendants and members of its session (daemons)."""
    import psutil

    found: dict[int, Any] = {}
    try:
        root = psutil.Process(proc.pid)
        found[root.pid] = root
        for child in root.children(recursive=True):
            found[child.pid] = child
    except psutil.Error:
        pass
    for candidate in psutil.process_iter():
        try:
            if os.getsid(candidate.pid) == proc.pid:
                found[candidate.pid] = candidate
        except (OSError, psutil.Error):
            continue
    return list(found.values())


def stop_ray(proc: subprocess.Popen[bytes]) -> int:
    """End the Ray head by PID (SIGTERM, then SIGKILL 10 s later); how many processes were ended."""
    import psutil

    family = ray_family(proc)
    for member in family:
        try:
            member.terminate()
        except psutil.Error:
            pass
    _, left = psutil.wait_procs(family, timeout=10)
    for member in left + [p for p in ray_family(proc) if p not in family]:
        try:
            member.kill()
        except psutil.Error:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return len(family)


RAY_DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    from ray.job_submission import JobStatus, JobSubmissionClient
    import ray

    url, samples, burst, cancels, poll, folder = sys.argv[1:7]
    samples, burst, cancels, poll = int(samples), int(burst), int(cancels), float(poll)
    client = JobSubmissionClient(url)
    ENDED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def once():
        t0 = time.time()
        job = client.submit_job(entrypoint="python -c pass")
        running = None
        while True:
            status = client.get_job_status(job)
            if running is None and status != JobStatus.PENDING:
                running = time.time()
            if status in ENDED:
                break
            time.sleep(poll)
        info = client.get_job_info(job)
        if status != JobStatus.SUCCEEDED:
            raise SystemExit(f"ray job {job} ended {status}: {info.message}")
        return {"running": running - t0, "completed": info.end_time / 1000 - t0}

    for _ in range(2):
        once()
    warm = [once() for _ in range(samples)]

    t0 = time.time()
    jobs = [client.submit_job(entrypoint="python -c pass") for _ in range(burst)]
    while any(client.get_job_status(j) not in ENDED for j in jobs):
        time.sleep(0.1)
    took = time.time() - t0
    bad = [j for j in jobs if client.get_job_status(j) != JobStatus.SUCCEEDED]
    if bad:
        raise SystemExit(f"ray burst: {len(bad)} of {burst} jobs did not succeed")

    stopped = []
    for i in range(cancels):
        pidfile = os.path.join(folder, f"ray-sleeper-{i}.pid")
        code = f"import os, time; open({pidfile!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        job = client.submit_job(entrypoint=f'python -c "{code}"')
        deadline = time.time() + 120
        while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
            if time.time() > deadline:
                raise SystemExit("the ray sleeper never started")
            time.sleep(0.01)
        pid = int(open(pidfile).read())
        time.sleep(0.3)
        t0 = time.perf_counter()
        client.stop_job(job)
        while alive(pid):
            time.sleep(0.002)
        gone = time.perf_counter() - t0
        while client.get_job_status(job) not in ENDED:
            time.sleep(0.01)
        stopped.append({"gone": gone, "recorded": time.perf_counter() - t0})

    print(json.dumps({
        "version": ray.__version__, "warm": warm,
        "burst": {"jobs": burst, "jobs_per_s": burst / took, "seconds": took}, "cancel": stopped,
    }))
    """
)


def ray_side(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    python = ray_python(Path(args.ray_venv))
    began = time.monotonic()
    proc, url, _ = start_ray(python, folder)
    head_start = time.monotonic() - began
    try:
        script = folder / "ray_driver.py"
        script.write_text(RAY_DRIVER)
        done = subprocess.run(
            [
                str(python),
                str(script),
                url,
                str(args.ray_samples),
                str(args.ray_jobs),
                str(args.cancels),
                str(RAY_POLL),
                str(folder),
            ],
            env=ray_env(python),
            capture_output=True,
            text=True,
            timeout=900,
            cwd=folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the Ray driver failed:\n{done.stderr[-3000:]}")
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        found["head_start"] = head_start
        return found
    finally:
        family = ray_family(proc)
        ended = stop_ray(proc)
        deadline = time.monotonic() + 10
        while any(alive(p.pid) for p in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p.pid for p in family if alive(p.pid)]
        print(
            f"Ray head stopped: {ended} processes ended by PID" + (f"; still there: {left}" if left else "")
        )


# ----- the run ---------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="warm samples per side (default 50)")
    parser.add_argument(
        "--jobs", type=int, default=200, help="tiny jobs in the throughput burst (default 200)"
    )
    parser.add_argument("--cancels", type=int, default=5, help="cancel samples (default 5)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle_seconds_before_scaledown (default 2)")
    parser.add_argument("--ray-samples", type=int, default=10, help="warm Ray samples (default 10)")
    parser.add_argument("--ray-jobs", type=int, default=20, help="Ray throughput burst (default 20)")
    parser.add_argument(
        "--ray-venv", default=str(REPO / ".venv-ray"), help="venv for Ray (default .venv-ray)"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip Ray Jobs")
    parser.add_argument("--no-local", action="store_true", help="skip the in-process dispatcher note")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    os.environ.pop("MLWS_WORKSPACE", None)
    os.environ.pop("MLWS_TOKEN", None)
    began = time.monotonic()
    import distributed

    import jupyter_mlws as mlws

    raw: dict[str, Any] = {}
    ours: dict[str, Any] = {}
    local: dict[str, Any] | None = None
    ray: dict[str, Any] | None = None
    ray_missing = "skipped (--no-ray)" if args.no_ray else ""
    with tempfile.TemporaryDirectory(prefix="mlws-bench-jobs-") as tmp:
        folder = Path(tmp)
        server = start_lab(folder / "root", folder / "state", app="server")
        dask: RawDask | None = None
        try:
            ws = mlws.Workspace(server.url, token=server.token)
            ws.compute.create_cluster(
                CLUSTER,
                min_nodes=0,
                max_nodes=2,
                node={"cpus": 1},
                idle_seconds_before_scaledown=WARM_IDLE,
            )
            timer = CallTimes(ws.store)
            print("ours: first job, cluster not started ...", flush=True)
            ours["cold"] = ours_once(ws)["running"]
            print("raw Dask: LocalCluster start + first task ...", flush=True)
            dask = RawDask(WARM_IDLE)
            raw["cold"] = dask.cold
            for _ in range(3):
                dask.once()
                ours_once(ws)
            print(f"warm submit -> running, {args.samples} samples each, alternating ...", flush=True)
            raw_warm, ours_warm = [], []
            for _ in range(args.samples):
                raw_warm.append(dask.once())
                ours_warm.append(ours_once(ws, timer=timer))
            raw["warm"], ours["warm"] = raw_warm, ours_warm
            ours["submit_calls"] = timer.summary(args.samples)

            print(f"raw Dask: {args.jobs} tiny jobs, retire, first from 0 ...", flush=True)
            burst = dask.burst(args.jobs)
            raw["burst"] = burst
            since = dask.short_idle(args.idle)
            raw["retire"] = retire_times(dask.workers, burst["last_end"], since, args.idle + 60)
            until(lambda: not dask.workers(), 60, "raw Dask at 0 workers", 0.05)
            raw["from_zero"] = dask.once()["running"]
            dask.close()
            dask = None

            print(
                f"ours: {args.jobs} tiny jobs, {args.cancels} cancels, retire, first from 0 ...", flush=True
            )
            ours["burst"] = ours_burst(ws, args.jobs)
            ours["cancel"] = [ours_cancel(ws) for _ in range(args.cancels)]
            ws.compute.update_cluster(CLUSTER, idle_seconds_before_scaledown=args.idle)
            since = time.time()
            ours_once(ws)
            ours["retire"] = ours_retire(ws, args.idle, since)
            zero = ours_once(ws)
            ours["from_zero"] = zero["running"]
            ours["from_zero_claim"] = zero["queue_to_claim"]
            ws.close()
        finally:
            if dask is not None:
                dask.close()
            server.stop()
        if not args.no_local:
            print("ours, in-process dispatcher (no server) ...", flush=True)
            local = in_process(folder / "local", max(10, args.samples // 2), args.idle)
        if not args.no_ray:
            print("Ray Jobs ...", flush=True)
            try:
                ray = ray_side(args, folder)
            except Exception as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                ray_missing = f"not measured: {first[:300]}"
                print(f"Ray Jobs not measured: {err}", file=sys.stderr)

    text, verdicts = report(
        args, raw, ours, local, ray, ray_missing, time.monotonic() - began, distributed.__version__
    )
    print(text)
    for line in verdicts:
        print(line)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


def report(
    args: argparse.Namespace,
    raw: dict[str, Any],
    ours: dict[str, Any],
    local: dict[str, Any] | None,
    ray: dict[str, Any] | None,
    ray_missing: str,
    total: float,
    dask_version: str,
) -> tuple[str, list[str]]:
    """The RESULTS.md section and the pass/fail lines."""

    def col(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [r[key] for r in rows]

    r_run, o_run = col(raw["warm"], "running"), col(ours["warm"], "running")
    r_done, o_done = col(raw["warm"], "completed"), col(ours["warm"], "completed")
    claim = col(ours["warm"], "queue_to_claim")
    call = col(ours["warm"], "submit_call")
    y_run = col(ray["warm"], "running") if ray else []
    y_done = col(ray["warm"], "completed") if ray else []
    p = {
        name: (pct(v, 50), pct(v, 95))
        for name, v in (
            ("r_run", r_run),
            ("o_run", o_run),
            ("r_done", r_done),
            ("o_done", o_done),
            ("claim", claim),
            ("call", call),
        )
    }
    if ray:
        p["y_run"], p["y_done"] = (pct(y_run, 50), pct(y_run, 95)), (pct(y_done, 50), pct(y_done, 95))
    cancel = col(ours["cancel"], "gone")
    cancel_rec = col(ours["cancel"], "recorded")
    y_cancel = col(ray["cancel"], "gone") if ray else []
    raw_retire = max(raw["retire"].values())
    our_retire = max(ours["retire"]["dask"].values())
    our_retire_rec = max(ours["retire"]["recorded"].values()) if ours["retire"]["recorded"] else None
    none = "not measured" if ray_missing else "n/a"
    nodes = len({r["node"] for r in ours["warm"]})
    r_node = statistics.median([d - r for d, r in zip(r_done, r_run, strict=True)])
    o_node = statistics.median([d - r for d, r in zip(o_done, o_run, strict=True)])

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}x" if b > 0 else ""

    rows = [
        (
            "warm submit → running, p50",
            ms(p["r_run"][0]),
            ms(p["o_run"][0]),
            ms(p["y_run"][0]) if ray else none,
            f"{(p['o_run'][0] - p['r_run'][0]) * 1000:+.1f} ms",
            ratio(p["y_run"][0], p["o_run"][0]) if ray else "",
            "≤ 20 ms over raw Dask; ≥ 10x Ray",
            f"{args.samples} samples each (Ray {args.ray_samples}); ours: queue entry → node's claim "
            f"{ms(p['claim'][0])}, `submit()` call {ms(p['call'][0])}",
        ),
        (
            "warm submit → running, p95",
            ms(p["r_run"][1]),
            ms(p["o_run"][1]),
            ms(p["y_run"][1]) if ray else none,
            f"{(p['o_run'][1] - p['r_run'][1]) * 1000:+.1f} ms",
            ratio(p["y_run"][1], p["o_run"][1]) if ray else "",
            "≤ 50 ms",
            f"ours: queue entry → claim p95 {ms(p['claim'][1])}, `submit()` call p95 {ms(p['call'][1])}; "
            f"max {ms(max(o_run))}; {nodes} node(s) ran the series",
        ),
        (
            "submit → completed, p50 / p95",
            f"{ms(p['r_done'][0])} / {ms(p['r_done'][1])}",
            f"{ms(p['o_done'][0])} / {ms(p['o_done'][1])}",
            f"{ms(p['y_done'][0])} / {ms(p['y_done'][1])}" if ray else none,
            f"{(p['o_done'][0] - p['r_done'][0]) * 1000:+.1f} ms",
            ratio(p["y_done"][0], p["o_done"][0]) if ray else "",
            "",
            "`python -c pass`; ours until the node wrote `completed`; Ray its `end_time`",
        ),
        (
            "first job from 0 nodes (cluster up, no node)",
            ms(raw["from_zero"]),
            ms(ours["from_zero"]),
            "n/a",
            f"{ours['from_zero'] - raw['from_zero']:+.2f} s",
            "",
            "≤ 3 s",
            f"ours queue entry → claim {ms(ours['from_zero_claim'])}; a local Ray head has no nodes to add",
        ),
        (
            "first job, cluster not started yet",
            ms(raw["cold"]),
            ms(ours["cold"]),
            "n/a",
            "",
            "",
            "",
            "LocalCluster start + first node + job start",
        ),
        (
            f"{args.jobs} tiny jobs end to end",
            f"{raw['burst']['jobs_per_s']:.1f} jobs/s",
            f"{ours['burst']['jobs_per_s']:.1f} jobs/s",
            f"{ray['burst']['jobs_per_s']:.1f} jobs/s" if ray else none,
            ratio(ours["burst"]["jobs_per_s"], raw["burst"]["jobs_per_s"]) + " of raw",
            ratio(ours["burst"]["jobs_per_s"], ray["burst"]["jobs_per_s"]) if ray else "",
            "",
            f"2 nodes at most; ours {ours['burst']['seconds']:.1f} s, of which the {args.jobs} `submit()` "
            f"calls {ours['burst']['submit_seconds']:.1f} s"
            + (f"; Ray {args.ray_jobs} jobs in {ray['burst']['seconds']:.1f} s" if ray else ""),
        ),
        (
            "cancel → process gone, median / max",
            "n/a (dask/distributed#4694)",
            f"{ms(statistics.median(cancel))} / {ms(max(cancel))}",
            f"{ms(statistics.median(y_cancel))} / {ms(max(y_cancel))}" if ray else none,
            "",
            ratio(statistics.median(y_cancel), statistics.median(cancel)) if ray else "",
            "≤ 1 s",
            f"{args.cancels} cancels each; ours recorded `canceled` after "
            f"{ms(statistics.median(cancel_rec))} (median)",
        ),
        (
            "idle → node retired (worst node)",
            ms(raw_retire),
            ms(our_retire),
            "n/a",
            f"{our_retire - raw_retire:+.2f} s",
            "",
            f"≤ idle + 5 s = {args.idle + 5:g} s",
            f"idle_seconds_before_scaledown={args.idle:g}; ours' `node_removed` event "
            f"{ms(our_retire_rec)} after the last job end",
        ),
    ]
    if local is not None:
        warm = col(local["warm"], "running")
        rows.append(
            (
                "in-process dispatcher (no server), warm submit → running p50 / p95",
                "",
                f"{ms(pct(warm, 50))} / {ms(pct(warm, 95))}",
                "",
                "",
                "",
                "",
                f"{len(warm)} samples; first job with the cluster not started {ms(local['cold'])}",
            )
        )
    verdicts = []

    def verdict(ok: bool, what: str) -> None:
        verdicts.append(f"{'PASS' if ok else 'FAIL'}  {what}")

    verdict(p["o_run"][1] <= 0.050, f"warm submit → running p95 {ms(p['o_run'][1])} ≤ 50 ms")
    over = p["o_run"][0] - p["r_run"][0]
    verdict(over <= 0.020, f"warm submit → running p50 {over * 1000:+.1f} ms over raw Dask ≤ 20 ms")
    verdict(ours["from_zero"] <= 3.0, f"first job from 0 nodes {ms(ours['from_zero'])} ≤ 3 s")
    verdict(max(cancel) <= 1.0, f"cancel → process gone, worst of {len(cancel)}: {ms(max(cancel))} ≤ 1 s")
    verdict(our_retire <= args.idle + 5, f"idle → node retired {ms(our_retire)} ≤ {args.idle + 5:g} s")
    if ray:
        times = p["y_run"][0] / p["o_run"][0]
        verdict(times >= 10, f"Ray Jobs submit → running p50 {ms(p['y_run'][0])} = {times:.1f}x ours ≥ 10x")
    else:
        verdicts.append(f"----  ≥ 10x Ray Jobs: {ray_missing}")

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = f"Python {platform.python_version()}, distributed {dask_version}"
    if ray:
        versions += f", Ray {ray['version']} (head started in {ray['head_start']:.0f} s)"
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    text = (
        f"\n## Jobs on a cluster — {when}\n\nMachine: {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end); "
        f"{versions}; total {total:.0f} s.\n\n"
        "| work | raw Dask (floor) | jupyter_mlws (server) | Ray Jobs | ours vs raw Dask | Ray / ours "
        "| target | note |\n|---|---|---|---|---|---|---|---|\n"
        + table
        + "\n\nTargets:\n\n"
        + "".join(f"- {line}\n" for line in verdicts)
        + f"\nWhere ours' warm time goes (medians): the `submit()` call {ms(p['call'][0])}, made of "
        f"{ours['submit_calls']} (REST calls per submit, each timed in the client); then queue entry → "
        f"the node's claim {ms(p['claim'][0])} (dispatcher wake-up, its look at the queue, taking the job, "
        f"Dask to the worker; raw Dask's whole submit → start is {ms(p['r_run'][0])}); on the node, claim → "
        f"`completed` {ms(o_node)} against raw Dask's task start → result {ms(r_node)}.\n\n"
        "(Raw Dask = `client.submit` of a function that runs `subprocess.run([python, '-c', 'pass'])` on a "
        "LocalCluster in the benchmark's process, same shape and adapt settings as ours. Ours = "
        "`ws.jobs.submit(command=['python', '-c', 'pass'])` through the workspace URL to a Jupyter server "
        "that owns the cluster. submit → running: from just before the submit call to the task's first "
        "line (raw Dask), the node's `started_time` (ours, written when it claims the job), the first "
        f"non-PENDING status polled every {RAY_POLL * 1000:.0f} ms (Ray). Ray ran after our server and "
        "clusters had stopped.)\n"
    )
    return text, verdicts


if __name__ == "__main__":
    sys.exit(main())
