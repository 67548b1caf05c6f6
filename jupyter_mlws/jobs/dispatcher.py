"""`JobDispatcher`: hands queued jobs to their cluster's Dask scheduler and watches them to the end.

Who runs one: the Jupyter server (for every job of its workspace, `server/jobs.py`), or a process
that submits jobs to a local workspace while no server dispatches for it (a script, a CI job,
a notebook with no server: `client/jobs.py` starts one in that process, as endpoints do).

What Dask does and what we add. Dask schedules: a job becomes one Dask task
(`jobs/node.py:run_job`) submitted with the job's priority and worker resources (`CPU`, `GPU`,
`MEMORY`), so Dask places it on a node with room, and its adaptive scaling sees the waiting tasks
and adds nodes. We keep the queue: a job is handed to Dask only while the jobs in flight on its
cluster fit the cluster at its largest (`max_nodes` x node CPUs; for another backend or an
attached scheduler, the CPUs its workers have) — enough for Dask to scale up to the maximum,
never so many that Dask's per-worker queues would reorder them. So the order is ours: priority,
then FIFO, and a job submitted with a higher priority overtakes those still waiting. We also add
what Dask lacks: the queue outlives the process (the `jobs` table), a
cancel that kills the job's processes (`Client.run(kill_job)` on its node), node loss recorded
on the run and retried by `max_retries`, and ownership, so a restarted server takes over the
queue of the one before.

Each `interval` (and at once when woken by a submit or a cancel):
- heartbeat in `job_dispatchers`; take queued jobs nobody owns (a server takes every one; a
  process only those it submitted) or whose owner's heartbeat lapsed (`LEASE_MS`) —
  compare-and-set, so two dispatchers never both take one;
- submit each owned queued job that has no Dask task yet, in queue order (priority, then FIFO);
- a queued job with `cancel_requested` is canceled and its task released; a running one is killed
  on its node (the node ends the run `canceled`);
- a running job whose node left the cluster (or whose owner is gone) ends `killed` with
  "node lost", then goes back to the queue as a new attempt (a new run) while `max_retries`
  allows;
- a finished Dask task that raised (the node could not even start the job) ends the job `failed`.
`stop()` (server shutdown) ends its running jobs `killed` ("the dispatcher stopped": their
processes go with the cluster), retried on the next start when `max_retries` allows, and
releases its queued jobs for the next dispatcher.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..entities import Job, RunStatus
from ..errors import Conflict, NotFound
from . import notice

#: A dispatcher whose heartbeat is older than this is gone; its jobs are taken over.
LEASE_MS = 10_000
HEARTBEAT_SECONDS = 2.0

log = logging.getLogger("jupyter_mlws.jobs")
#: Jobs whose driver runs in a thread beside the dispatcher (jobs/batch_dispatch.py), not on a node.
LOCAL_KINDS = ("batch", "sweep")


@dataclass
class _Task:
    attempt: int
    future: Any
    target: str
    units: float


class JobDispatcher:
    """See the module docstring. `clusters(target)` returns a running cluster (`RunningCluster`)."""

    def __init__(
        self,
        store: Any,
        clusters: Callable[[str], Any],
        where: dict[str, Any],
        kind: str = "server",
        interval: float = 0.2,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.where = where
        self.kind = kind
        self.interval = interval
        self.id = f"{socket.gethostname()}:{os.getpid()}:{kind}:{id(self):x}"
        self.mine: set[str] = set()  # jobs a process dispatcher submitted itself
        self.tasks: dict[str, _Task] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0
        self._killing: set[tuple[str, int]] = set()
        self.cancel_reasons: dict[str, str] = {}  # a sweep's stopped trials: the policy's words

    # ----- lifecycle ---------------------------------------------------------------------------
    def start(self) -> JobDispatcher:
        self.store.beat_job_dispatcher(self.id, self.kind)
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="mlws-job-dispatcher")
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the queue now (a job was submitted or a cancel asked for)."""
        self._wake.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, reason: str = "the dispatcher stopped") -> None:
        """Stop dispatching: end our running jobs (retried later where allowed), release the queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            for task in self.tasks.values():  # a sweep's driver leaves its sweep to the next dispatcher
                if hasattr(task.future, "handover") and getattr(task.future, "kind", "") == "sweep":
                    task.future.handover()
            for job in self.store.list_jobs(states=["running", "queued"], limit=10_000):
                if job.owner != self.id:
                    continue
                if job.state == "running":
                    self._lost(job, f"{reason} while it ran")
                else:
                    self._try(
                        lambda j=job: self.store.update_job(j.job_id, expect={"owner": self.id}, owner=None)
                    )
            for task in self.tasks.values():
                if getattr(task.future, "local", False):  # a batch driver in this process: stop it
                    self._try(lambda t=task: t.future.cancel(f"{reason} while it ran"))
                else:
                    self._try(task.future.cancel)
            deadline = time.monotonic() + 10  # stopped drivers upload what they have, then end
            for task in self.tasks.values():
                if getattr(task.future, "local", False):
                    task.future.wait(max(deadline - time.monotonic(), 0))
            self.tasks.clear()
            self.store.drop_job_dispatcher(self.id)
        except Exception:
            log.exception("mlws: could not release the jobs of dispatcher %s", self.id)

    # ----- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("mlws: job dispatcher tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def tick(self) -> None:
        """One look at the queue and the running jobs (see the module docstring)."""
        if time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            self.store.beat_job_dispatcher(self.id, self.kind)
            self._last_beat = time.monotonic()
        jobs = self.store.list_jobs(states=["queued", "running"], limit=10_000)
        dispatchers = self.store.job_dispatchers(LEASE_MS)
        live = {d for d, _, _ in dispatchers} | {self.id}
        servers_alive = any(kind == "server" for _, kind, _ in dispatchers)
        queued = sorted((j for j in jobs if j.state == "queued"), key=lambda j: (-j.priority, j.submitted_ns))
        full: set[str] = set()
        for job in queued:
            if job.owner != self.id:
                job = self._take(job, live, servers_alive)
                if job is None:
                    continue
            task = self.tasks.get(job.job_id)
            if job.cancel_requested:
                self._cancel_queued(job)
            elif (task is None or task.attempt != job.attempt) and job.target not in full:
                if not self._dispatch(job):
                    full.add(job.target)  # the head of this target's queue waits; so do the rest
        workers: dict[str, set[str] | None] = {}
        for job in jobs:
            if job.state != "running":
                continue
            if job.owner != self.id:
                if job.owner not in live and (self.kind == "server" or not servers_alive):
                    self._lost(job, "node lost: the dispatcher that ran it is gone")
                continue
            if job.cancel_requested:
                self._kill_running(job)
                continue
            if job.kind in LOCAL_KINDS:
                continue  # its driver is a thread of this process: not on a node that can leave
            if job.target not in workers:
                workers[job.target] = self._workers(job.target)
            known = workers[job.target]
            if known is not None and job.node and job.node not in known:
                self._lost(job, f"node lost: worker {job.node} left the cluster")
        self._reap()

    # ----- taking and dispatching --------------------------------------------------------------
    def _take(self, job: Job, live: set[str], servers_alive: bool) -> Job | None:
        orphan = job.owner is not None and job.owner not in live
        if job.owner is None:
            wanted = self.kind == "server" or job.job_id in self.mine
        else:
            wanted = orphan and (self.kind == "server" or not servers_alive)
        if not wanted:
            return None
        try:
            return self.store.update_job(
                job.job_id, expect={"owner": job.owner, "state": "queued"}, owner=self.id
            )
        except (Conflict, NotFound):
            return None

    def spec(self, job: Job) -> dict[str, Any]:
        """What the node needs: the job's definition, its attempt and run, the workspace's location."""
        return {
            **job.spec,
            "job_id": job.job_id,
            "attempt": job.attempt,
            "run_id": job.run_id,
            "kind": job.kind,
            "target": job.target,
            "workspace": self.where,
        }

    def _dispatch(self, job: Job) -> bool:
        """Hand the job to Dask when its cluster has room for it; False when it must wait."""
        from . import node

        try:
            running = self.clusters(job.target)
            client = running.client()
        except NotFound as err:
            self._end(job, "failed", f"target {job.target!r} is gone: {err}")
            return True
        except Exception as err:
            log.warning("mlws: cluster %s cannot take job %s now: %s", job.target, job.job_id, err)
            return False
        if job.kind in LOCAL_KINDS:  # its driver runs here, beside this dispatcher (jobs/batch_dispatch.py)
            from .batch_dispatch import start_driver

            hooks = None
            if job.kind == "sweep":
                from .sweep_driver import Hooks

                asked = ((job.spec.get("sweep") or {}).get("submit") or {}).get("resources") or {}
                hooks = Hooks(
                    self.adopt, self.cancel_with_reason, client, self.id, _resources(asked, running)
                )
            task = start_driver(self.spec(job), client, lambda: self._task_done(job.job_id), hooks)
            task.kind = job.kind
            self.tasks[job.job_id] = _Task(job.attempt, task, job.target, 0.0)
            return True
        units = _units(job)
        in_flight = sum(
            t.units for t in self.tasks.values() if t.target == job.target and not t.future.done()
        )
        if in_flight + units > _capacity(running):
            return False
        resources = _resources(job.spec.get("resources") or {}, running)
        future = client.submit(
            node.run_job,
            self.spec(job),
            key=f"mlws-job-{job.job_id}-{job.attempt}",
            resources=resources or None,
            priority=job.priority,
            pure=False,
        )
        self.tasks[job.job_id] = _Task(job.attempt, future, job.target, units)
        future.add_done_callback(lambda _: self._task_done(job.job_id))
        return True

    def adopt(self, job_id: str) -> None:
        """A job this dispatcher's own sweep driver queued: take it, now (a process dispatcher
        takes only the jobs it was given)."""
        self.mine.add(job_id)
        self._wake.set()

    def cancel_with_reason(self, job_id: str, reason: str) -> None:
        """Cancel a job saying why (a sweep's early-terminated trial): the run ends with `reason`."""
        self.cancel_reasons[job_id] = reason
        self.store.update_job(job_id, cancel_requested=True)
        self._wake.set()

    def _task_done(self, job_id: str) -> None:
        """A job's task or driver is done (its end is in the store): tell waiters, look at the queue."""
        notice.announce(job_id)
        self._wake.set()  # room again: look at the queue now

    def _workers(self, target: str) -> set[str] | None:
        try:
            running = self.clusters(target)
            return set(running.client().processing())
        except Exception:
            return None

    def _reap(self) -> None:
        """Forget finished Dask tasks; a task that raised ends its job `failed`."""
        for job_id, task in list(self.tasks.items()):
            if not task.future.done():
                continue
            self.tasks.pop(job_id, None)
            status = task.future.status
            if status in ("cancelled", "lost") and not getattr(task.future, "local", False):
                # Only `_lost` and `_cancel_queued` cancel a node's task, and they forget it first:
                # this one was cancelled by Dask itself — its client closed because the scheduler
                # stopped answering (RELIABILITY K8), or the scheduler forgot it.
                self._task_vanished(job_id, task, status)
                continue
            if status != "error":
                continue
            err = task.future.exception()
            try:
                job = self.store.get_job(job_id)
            except NotFound:
                continue
            if job.attempt != task.attempt or job.ended:
                continue
            name = type(err).__name__
            if name == "KilledWorker":
                self._lost(job, f"node lost: {err}")
            else:
                self._end(job, "failed", f"the node could not run the job: {name}: {err}")

    def _task_vanished(self, job_id: str, task: _Task, status: str) -> None:
        """A running job whose Dask task Dask dropped: its node is lost with it."""
        if self._stop.is_set():
            return
        try:
            job = self.store.get_job(job_id)
        except NotFound:
            return
        if job.attempt != task.attempt or job.ended or job.state != "running":
            return
        try:
            client = self.clusters(job.target).client(reconnect=False)
            closed = client.status != "running"
        except Exception:
            closed = True
        why = "the cluster's scheduler stopped answering" if closed else f"its Dask task was {status}"
        self._lost(job, f"node lost: {why}")
        threading.Thread(target=_kill_orphan, args=(job,), daemon=True, name="mlws-job-orphan").start()

    # ----- cancel, loss, retries ---------------------------------------------------------------
    def _cancel_queued(self, job: Job) -> None:
        task = self.tasks.pop(job.job_id, None)
        if task is not None:
            self._try(task.future.cancel)
        reason = self.cancel_reasons.pop(job.job_id, None)
        self._end(job, "canceled", reason or "canceled before it started", expect_state="queued")

    def _kill_running(self, job: Job) -> None:
        """Kill the job's processes on its node (in the background: the loop goes on)."""
        key = (job.job_id, job.attempt)
        if key in self._killing:
            return
        self._killing.add(key)

        def kill() -> None:
            from . import node

            if job.kind in LOCAL_KINDS:  # the driver is a thread of this process: ask it to stop
                task = self.tasks.get(job.job_id)
                if task is not None and not task.future.done():
                    task.future.cancel("canceled")
                else:
                    self._end(job, "canceled", "canceled (its driver had already ended)")
                self._killing.discard(key)
                return
            try:
                client = self.clusters(job.target).client()
                reason = self.cancel_reasons.get(job.job_id, "canceled")
                found = client.run(node.kill_job, job.job_id, reason, workers=[job.node], on_error="return")
                if not any(v is True for v in (found or {}).values()):
                    # the process is not there (it just ended, or its node is gone): record it
                    time.sleep(0.5)
                    current = self.store.get_job(job.job_id)
                    if current.state == "running" and current.attempt == job.attempt:
                        self._end(current, "canceled", f"{reason} (its process was already gone)")
            except Exception as err:
                log.warning("mlws: could not cancel job %s on %s: %s", job.job_id, job.node, err)
            finally:
                self.cancel_reasons.pop(job.job_id, None)
                self._killing.discard(key)

        threading.Thread(target=kill, daemon=True, name="mlws-job-cancel").start()

    def _lost(self, job: Job, reason: str) -> None:
        """End the attempt `killed`; queue the next attempt when retries are left. A sweep goes back
        to the queue as it is (same attempt, its run still running): the next driver resumes it."""
        if job.kind == "sweep" and not job.cancel_requested:
            self.tasks.pop(job.job_id, None)
            self._try(
                lambda: self.store.update_job(
                    job.job_id,
                    expect={"attempt": job.attempt, "state": "running"},
                    state="queued",
                    state_reason=f"to be resumed after: {reason}",
                    node=None,
                    owner=None if self._stop.is_set() else self.id,
                )
            )
            return
        task = self.tasks.pop(job.job_id, None)
        if task is not None:
            self._try(task.future.cancel)
        if job.cancel_requested:  # asked to stop, and it stopped (with its node): canceled
            self._end(job, "canceled", f"canceled ({reason})")
            return
        self._end_run(job.run_id, "killed", reason)
        if job.attempt <= job.max_retries:
            try:
                new_run = self._next_run(job)
                self.store.update_job(
                    job.job_id,
                    expect={"attempt": job.attempt, "state": job.state},
                    state="queued",
                    state_reason=f"retry {job.attempt} of {job.max_retries} after: {reason}",
                    attempt=job.attempt + 1,
                    run_id=new_run,
                    node=None,
                    pid=None,
                    started_time=None,
                    owner=None if self._stop.is_set() else self.id,
                )
            except (Conflict, NotFound):
                pass
            return
        self._end(job, "killed", reason, skip_run=True)

    def _next_run(self, job: Job) -> str:
        """A new run for the next attempt: same experiment, params and tags as the last one."""
        previous = self.store.get_run(job.run_id)
        tags = {k: v for k, v in previous.data.tags.items() if not k.startswith("mlws.job.attempt")}
        tags["mlws.job.attempt"] = str(job.attempt + 1)
        record = self.store.create_run(
            job.experiment_id,
            parent_run_id=previous.info.parent_run_id,  # a sweep's trial stays under its sweep
            name=f"{job.name} (attempt {job.attempt + 1})",
            status=RunStatus.QUEUED,
            source_kind="job",
            compute_target=job.target,
            tags=tags,
            user=previous.info.user,
        )
        if previous.data.params:
            self.store.log_params(record.info.run_id, previous.data.params)
        return record.info.run_id

    def _end(
        self, job: Job, state: str, reason: str, expect_state: str | None = None, skip_run: bool = False
    ) -> None:
        expect = {"attempt": job.attempt, "state": expect_state or job.state}
        try:
            self.store.update_job(
                job.job_id,
                expect=expect,
                state=state,
                state_reason=reason,
                ended_time=int(time.time() * 1000),
            )
        except (Conflict, NotFound):
            return
        if not skip_run:
            self._end_run(job.run_id, state, reason)
        notice.announce(job.job_id)

    def _end_run(self, run_id: str, state: str, reason: str) -> None:
        try:
            self.store.update_run(
                run_id, status=state, end_time=int(time.time() * 1000), status_reason=reason
            )
        except (Conflict, NotFound):
            pass

    @staticmethod
    def _try(work: Callable[[], Any]) -> None:
        try:
            work()
        except Exception:
            pass


def _units(job: Job) -> float:
    """The CPUs a job holds while it is in flight (a job asking none still takes a slot)."""
    return max(float((job.spec.get("resources") or {}).get("cpus", 1) or 0), 1.0)


def _capacity(running: Any) -> float:
    """CPUs the cluster can have at once: max_nodes x node CPUs for ours; what the workers have
    (at least that) for another backend or an attached scheduler."""
    definition = running.definition
    if not running.attached and not definition.factory:
        return float(definition.max_nodes * definition.node_cpus)
    try:
        workers = running.client().scheduler_info().get("workers", {})
        threads = float(sum((w or {}).get("nthreads", 1) for w in workers.values()))
    except Exception:
        threads = 0.0
    if running.attached:
        return max(threads, 1.0)
    return max(threads, float(definition.max_nodes * definition.node_cpus))


def _resources(asked: dict[str, Any], running: Any) -> dict[str, float]:
    """Dask worker resources for a job: only on clusters whose workers declare them (ours do)."""
    if (running.attached or running.definition.factory) and not running.declares_resources():
        return {}  # somebody else's workers (or another backend's) may declare none
    wanted = {"CPU": float(asked.get("cpus", 1) or 0), "GPU": float(asked.get("gpus", 0) or 0)}
    if asked.get("memory_bytes"):
        wanted["MEMORY"] = float(asked["memory_bytes"])
    return {k: v for k, v in wanted.items() if v > 0}


def _kill_orphan(job: Job) -> None:
    """After a node was lost with its scheduler, the job's process may still run on a worker of
    this machine that nobody can reach through Dask any more: end its process tree here, when the
    pid is one of this machine's and its environment names the job (RELIABILITY K8: no orphans)."""
    if not job.pid:
        return
    import psutil

    try:
        proc = psutil.Process(job.pid)
        if proc.environ().get("MLWS_JOB_ID") != job.job_id:
            return  # not this job's process (another machine's pid, or a reused one)
        family = [*proc.children(recursive=True), proc]
    except psutil.Error:
        return
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=3)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
