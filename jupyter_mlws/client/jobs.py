"""`ws.jobs`: submit command, notebook and function jobs to a cluster; follow, wait, cancel them.

Who calls it: users (`ws.jobs.submit(...)`, `ws.jobs.list()`, `ws.jobs.get(id)`), `%%mlrun
--target` (cell jobs), `jupyter mlws jobs ...` and the REST handlers' peers. What a job is and how
it runs: `jobs/` (submit.py checks and queues, dispatcher.py hands jobs to Dask, node.py runs them).

Who dispatches: the workspace's Jupyter server when one is alive for it (a workspace URL always;
a local workspace when a server's dispatcher heartbeat is fresh in the store). Otherwise this
process starts a dispatcher of its own (and the clusters its jobs need, as Dask LocalClusters)
that lives as long as the process: a script or a CI job can submit and wait without a server.
Jobs queued by such a process and not finished when it exits are taken over by the next server.

`job.result()` unpickles a function job's return value: the user's own function's value, written
by the process that ran it. A job's `logs()` are its live output (every attempt); the run's
`logs()` the same text as an artifact once the attempt ended.

Queueing itself (the run, snapshot, inputs and payload stored, then the queue entry) and the
`ws.jobs.list()` table are in client/job_queue.py; batch scoring in client/batch.py.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..entities import JOB_ENDED, Job
from ..errors import InvalidParameter
from ..jobs import notice
from .job_queue import DATA_LINEAGE_TAG as DATA_LINEAGE_TAG  # (where it was; job_queue.py now)
from .job_queue import jobs_frame as jobs_frame
from .job_queue import queue_job as queue_job
from .run import Run

if TYPE_CHECKING:
    import pandas as pd

    from ..jobs.dispatcher import JobDispatcher
    from .workspace import Workspace

#: How long `submit` trusts a cluster definition it read (sizes are checked against it).
CLUSTER_CACHE_SECONDS = 5.0
_dispatchers: dict[str, JobDispatcher] = {}
_clusters: dict[str, tuple[Any, Any]] = {}  # key -> (store, running cluster)
_lock = threading.Lock()


class JobHandle:
    """One submitted job: its state, run, output, and cancel (`ws.jobs.submit` returns it)."""

    def __init__(self, jobs: Jobs, record: Job) -> None:
        self._jobs = jobs
        self.record = record

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.record.name!r} {self.record.state} on {self.record.target}>"

    @property
    def id(self) -> str:
        return self.record.job_id

    def refresh(self) -> Job:
        self.record = self._jobs._store.get_job(self.id)
        return self.record

    @property
    def status(self) -> str:
        """queued, running, completed, failed, canceled or killed (read now)."""
        return self.refresh().state

    @property
    def reason(self) -> str | None:
        return self.refresh().state_reason

    @property
    def run(self) -> Run:
        """The run of the job's current attempt."""
        return self._jobs.workspace.get_run(self.refresh().run_id)

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> JobHandle:
        """Block until the job ended; TimeoutError when `timeout` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = min(poll, 0.02)
        while self.refresh().state not in JOB_ENDED:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Job {self.id} is still {self.record.state} after {timeout:g} s.")
            if self._jobs.dispatched_here(self.id):  # woken by its end (jobs/notice.py), no polling
                left = notice.FALLBACK_SECONDS if deadline is None else deadline - time.monotonic()
                notice.wait(self.id, min(notice.FALLBACK_SECONDS, max(left, 0.0)))
                continue
            time.sleep(delay)
            delay = min(delay * 1.5, poll if poll > 0 else 0.05, 0.5)
        return self

    def logs(self) -> str:
        """Everything the job printed so far (stdout and stderr, every attempt)."""
        return "".join(chunk.text for chunk in self.log_chunks())

    def log_chunks(self, since: int = 0) -> list[Any]:
        chunks, cursor = [], since
        while True:
            found = self._jobs._store.job_logs(self.id, since=cursor)
            if not found:
                return chunks
            chunks.extend(found)
            cursor = found[-1].cursor

    def follow(self, poll: float = 0.1, timeout: float | None = None) -> Iterator[Any]:
        """Yield output chunks as they are printed until the job ended (and its output is read)."""
        cursor = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ended = self.refresh().state in JOB_ENDED
            found = self._jobs._store.job_logs(self.id, since=cursor)
            yield from found
            if found:
                cursor = found[-1].cursor
                continue
            if ended:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Job {self.id} is still {self.record.state} after {timeout:g} s.")
            time.sleep(poll)

    def stream(self, file: IO[str] | None = None, timeout: float | None = None) -> str:
        """Print the job's output as it comes until it ended (as Azure ML's `jobs.stream`); its state."""
        out = file or sys.stdout
        for chunk in self.follow(timeout=timeout):
            out.write(chunk.text)
            out.flush()
        return self.record.state

    def cancel(self, wait: float = 5.0) -> JobHandle:
        """Cancel: a queued job leaves the queue; a running one's processes are killed on its node.
        An ended job stays as it ended."""
        if self.refresh().ended:
            return self
        self._jobs._store.update_job(self.id, cancel_requested=True)
        self._jobs._poke()
        deadline = time.monotonic() + wait
        while wait > 0 and self.refresh().state not in JOB_ENDED and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def result(self, timeout: float | None = None) -> Any:
        """A function job's return value (a cell job's returned variables); waits for the end."""
        self.wait(timeout)
        if self.record.state != "completed":
            raise RuntimeError(f"Job {self.id} ended {self.record.state}: {self.record.state_reason}")
        import cloudpickle

        store = self._jobs.workspace.artifact_store
        with store.open(self.record.run_id, "job/result.pkl") as handle:
            return cloudpickle.loads(handle.read())


class Jobs:
    """`ws.jobs` (see the module docstring)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._store = workspace.store
        self._clusters: dict[str, tuple[float, Any]] = {}

    def submit(
        self,
        function: Callable[..., Any] | None = None,
        *args: Any,
        command: list[str] | str | None = None,
        notebook: str | None = None,
        parameters: dict[str, Any] | None = None,
        code: str | os.PathLike[str] | None = None,
        target: str | None = None,
        experiment: str | None = None,
        name: str | None = None,
        inputs: dict[str, Any] | None = None,
        environment_variables: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
        priority: int = 0,
        max_retries: int = 0,
        timeout: Any = None,
        shell: bool = False,
        tags: dict[str, Any] | None = None,
        parent_run: Any = None,
        **kwargs: Any,
    ) -> JobHandle:
        """Queue a job on cluster `target` and return at once (the job is `queued`).

        One of: `command=["python", "train.py", "--reg", "0.01"]` (with `code="src/"`),
        `notebook="train.ipynb", parameters={...}`, or a function with its arguments
        (`ws.jobs.submit(train, X, y, target=...)`, extra keyword arguments go to it).
        `parent_run` (a Run or a run id): the job's runs are children of it (a sweep's trials)."""
        from ..jobs import submit as sub
        from .workspace import default_experiment_name

        given = [x is not None for x in (function, command, notebook)]
        if sum(given) != 1:
            raise InvalidParameter("Submit exactly one of: a function, command=[...], or notebook='...'.")
        if (args or kwargs) and function is None:
            raise InvalidParameter(f"Unknown submit arguments {sorted(kwargs) or list(args)!r}.")
        if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) >= 2**31:
            raise InvalidParameter(f"priority is an integer (higher runs first), not {priority!r}.")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100:
            raise InvalidParameter(f"max_retries is an integer from 0 to 100, not {max_retries!r}.")
        cluster = self._cluster(target)
        checked_resources = sub.check_resources(cluster, resources)
        timeout_seconds = sub.parse_timeout(timeout)
        env = {str(k): str(v) for k, v in (environment_variables or {}).items()}
        spec: dict[str, Any] = {
            "resources": checked_resources,
            "timeout_seconds": timeout_seconds,
            "environment_variables": env,
        }
        payload = None
        params: dict[str, Any] = {}
        if command is not None:
            kind = "command"
            folder = sub.check_code(code)
            argv = sub.check_command(command, shell, folder, local_nodes=cluster.kind == "cluster")
            spec.update(command=argv, shell=bool(shell))
            params = sub.script_params(argv)
        elif notebook is not None:
            from ..jobs.notebooks import check_parameters

            kind = "notebook"
            folder = sub.check_code(code) if code is not None else None
            path = (folder / notebook) if folder is not None else Path(notebook).expanduser()
            if not path.is_file():
                raise InvalidParameter(f"The notebook {os.fspath(notebook)!r} does not exist.")
            if folder is None:
                folder = path.resolve().parent
            spec.update(
                notebook=path.resolve().relative_to(folder).as_posix(),
                parameters=check_parameters(dict(parameters or {})),
            )
            params = dict(parameters or {})
        else:
            kind = "function"
            if not callable(function):
                raise InvalidParameter(f"{function!r} is not callable.")
            folder = sub.check_code(code)
            payload = sub.pickled(
                {"function": function, "args": args, "kwargs": kwargs},
                f"The function {getattr(function, '__name__', function)!r} or its arguments",
            )
            spec["function_name"] = getattr(function, "__qualname__", None) or getattr(
                function, "__name__", "function"
            )
        checked_inputs = self._pin_data(sub.check_inputs(inputs, folder))
        job = queue_job(
            self.workspace,
            kind=kind,
            name=name,
            target=cluster.name,
            experiment=experiment or default_experiment_name(),
            spec=spec,
            code=folder,
            inputs=checked_inputs,
            params=params,
            payload=payload,
            priority=priority,
            max_retries=max_retries,
            tags=tags,
            parent_run_id=_run_id(parent_run),
        )
        self._dispatch(job.job_id)
        return JobHandle(self, job)

    def submit_cell(
        self,
        source: str,
        variables: dict[str, Any],
        *,
        target: str,
        experiment: str,
        name: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> JobHandle:
        """A notebook cell as a job (`%%mlrun --target`): `source` runs on a node with `variables`."""
        from ..jobs import submit as sub

        cluster = self._cluster(target)
        for key, value in variables.items():
            sub.pickled(value, f"The notebook variable {key!r} (read by the cell)")
        payload = sub.pickled({"source": source, "variables": variables}, "The cell's variables")
        job = queue_job(
            self.workspace,
            kind="cell",
            name=name,
            target=cluster.name,
            experiment=experiment,
            spec={
                "resources": sub.check_resources(cluster, None),
                "timeout_seconds": None,
                "environment_variables": {},
            },
            code=None,
            inputs={},
            params=dict(params or {}),
            payload=payload,
            priority=0,
            max_retries=0,
            tags=tags,
        )
        self._dispatch(job.job_id)
        return JobHandle(self, job)

    def batch_score(self, model: str | None = None, inputs: Any = None, **options: Any) -> Any:
        """Batch inference on a cluster: a model (or an entry script) over a data asset, folder, glob
        or DataFrame in mini-batches; see `client/batch.py` and docs/batch.md. Returns a `BatchJob`."""
        from .batch import batch_score

        return batch_score(self, model, inputs, **options)

    def sweep(self, trial: Any, **options: Any) -> Any:
        """A hyperparameter sweep whose trials are jobs (Optuna samples and prunes; `client/sweeps.py`):
        `ws.jobs.sweep(train, search_space={...}, objective="auc", goal="maximize", target=...)`."""
        from .sweeps import start_sweep

        return start_sweep(self, trial, **options)

    def get_sweep(self, sweep_id: str) -> Any:
        """A sweep by its job id or its (parent) run id; `NotFound` otherwise."""
        from .sweeps import get_sweep

        return get_sweep(self, sweep_id)

    def _pin_data(self, inputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Data-asset inputs resolved to the version they name now (an unknown one: NotFound)."""
        for name, given in inputs.items():
            if "data" in given:
                version = self.workspace.data.get(given["data"])
                inputs[name] = {"data": version.name, "version": version.version, "ref": version.ref}
        return inputs

    def _cluster(self, target: str | None) -> Any:
        """The target's definition, checked (`jobs/submit.py`); kept `CLUSTER_CACHE_SECONDS` so a
        loop of submits asks once (the server checks the target again when the job arrives)."""
        from ..jobs import submit as sub

        now = time.monotonic()
        found = self._clusters.get(str(target))
        if found is not None and now - found[0] < CLUSTER_CACHE_SECONDS:
            return found[1]
        cluster = sub.check_target(self._store, target)
        self._clusters[str(target)] = (now, cluster)
        return cluster

    def get(self, job_id: str) -> JobHandle:
        """The job `job_id` (`NotFound` when unknown); a batch job's handle has its predictions too."""
        record = self._store.get_job(job_id)
        if record.kind == "batch":
            from .batch import BatchJob

            return BatchJob(self, record)
        if record.kind == "sweep":
            from .sweeps import Sweep

            return Sweep(self, record)
        return JobHandle(self, record)

    def list(self, state: str | None = None, target: str | None = None, limit: int = 500) -> pd.DataFrame:
        """DataFrame of jobs, newest first: state, queue position (1 = next), node, times, run."""
        import pandas as pd

        records = self._store.list_jobs(states=[state] if state else None, target=target, limit=limit)
        return jobs_frame(records, pd)

    # ----- dispatching ---------------------------------------------------------------------------
    def server_dispatches(self) -> bool:
        """True when a Jupyter server dispatches this workspace's jobs (else this process does)."""
        if self.workspace.is_remote:
            return True
        from ..jobs.dispatcher import LEASE_MS

        return any(kind == "server" for _, kind, _ in self._store.job_dispatchers(LEASE_MS))

    def _dispatch(self, job_id: str) -> None:
        if self.server_dispatches():
            return
        dispatcher = self.local_dispatcher()
        dispatcher.mine.add(job_id)
        dispatcher.wake()

    def dispatched_here(self, job_id: str) -> bool:
        """Whether a dispatcher of this process took the job (it announces the job's end)."""
        found = _dispatchers.get(self.workspace.location.store_url)
        return found is not None and found.alive() and job_id in found.mine

    def _poke(self) -> None:
        found = _dispatchers.get(self.workspace.location.store_url)
        if found is not None:
            found.wake()

    def local_dispatcher(self) -> JobDispatcher:
        """This process's dispatcher for the workspace (started on first use; see the docstring)."""
        from ..jobs.dispatcher import JobDispatcher

        key = self.workspace.location.store_url
        with _lock:
            found = _dispatchers.get(key)
            if found is not None and found.alive():
                return found
            where = {
                "store_url": self.workspace.location.store_url,
                "artifact_url": self.workspace.location.artifact_url,
            }
            dispatcher = JobDispatcher(
                self._store, _LocalClusters(self._store), where, kind="process"
            ).start()
            if not _dispatchers:
                import distributed  # noqa: F401  (its exit hooks first, so ours run before them)

                atexit.register(stop_local_dispatchers)
            _dispatchers[key] = dispatcher
            return dispatcher


def _run_id(run: Any) -> str | None:
    """A run id from a Run, a run id or None."""
    if run is None:
        return None
    run_id = getattr(run, "run_id", run)
    if not isinstance(run_id, str) or not run_id:
        raise InvalidParameter(f"parent_run is a Run or a run id, not {run!r}.")
    return run_id


class _LocalClusters:
    """The clusters a process dispatcher starts itself (Dask LocalClusters that live with it)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __call__(self, name: str) -> Any:
        from ..compute import dask_clusters

        key = f"{id(self.store)}:{name}"
        with _lock:
            found = _clusters.get(key)
            if found is None:
                running = dask_clusters.start(self.store.get_cluster(name))
                found = _clusters[key] = (self.store, running)
                _record(self.store, name, "cluster_started", "started by a script's job dispatcher", running)
            return found[1]


def stop_local_dispatchers() -> None:
    """Stop this process's dispatchers and the clusters they started (at exit)."""
    for key in list(_dispatchers):
        _dispatchers.pop(key).stop("the process that dispatched it exited")
    for key in list(_clusters):
        store, running = _clusters.pop(key)
        try:
            running.stop()
        except Exception:
            pass
        _record(store, running.definition.name, "cluster_stopped", "its process exited", running)


def _record(store: Any, name: str, kind: str, reason: str, running: Any) -> None:
    """Compute events as the server's cluster service records them, so `ws.compute.clusters()`
    and the panel see a cluster a script started."""
    details = {"address": running.address, "dashboard": running.dashboard, "attached": running.attached}
    try:
        store.record_compute_event(name, kind, reason=reason, details=details)
    except Exception:
        pass
