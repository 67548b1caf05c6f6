"""Queueing a job: its run, code snapshot, inputs and payload stored, then the queue entry; and the
`ws.jobs.list()` table.

Who calls it: `ws.jobs.submit` / `submit_cell` (client/jobs.py) and `ws.jobs.batch_score`
(client/batch.py), through `queue_job`; `jobs_frame` for `ws.jobs.list()`, a batch endpoint's
`jobs()` and the CLI. The checks come before (`jobs/submit.py`); when one of the writes here fails,
the run is deleted again, so nothing is half-created.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ..entities import Job, RunStatus
from ..errors import InvalidParameter, NotFound
from .run import Run

#: The run tag that lists every data version a job read, space-delimited (`ws.data.runs`).
DATA_LINEAGE_TAG = "mlws.data"


def queue_job(
    workspace: Any,
    *,
    kind: str,
    name: str | None,
    target: str,
    experiment: str,
    spec: dict[str, Any],
    code: Path | None,
    inputs: dict[str, dict[str, Any]],
    params: dict[str, Any],
    payload: bytes | None,
    priority: int,
    max_retries: int,
    tags: dict[str, Any] | None,
    parent_run_id: str | None = None,
    source_kind: str = "job",
) -> Job:
    """Create the run, store code, inputs and payload in it, queue the job (see the module docstring)."""
    from ..jobs import submit as sub

    store = workspace.store
    job_id = uuid.uuid4().hex
    label = name or sub.default_name(kind, spec)
    run_tags = {**(tags or {}), "mlws.job.id": job_id, "mlws.job.kind": kind, "mlws.job.attempt": "1"}
    read = sorted({given["ref"] for given in inputs.values() if "data" in given})
    for input_name, given in inputs.items():
        if "data" in given:  # lineage: which data version the run read
            run_tags[f"mlws.data.{input_name}"] = given["ref"]
    if read:  # one tag to search by (`ws.data.runs(ref)`): " name:v other:w "
        run_tags[DATA_LINEAGE_TAG] = f" {' '.join(read)} "
    if parent_run_id is not None:  # a child run (a sweep's trial): the parent must exist
        try:
            store.get_run_info(parent_run_id)
        except NotFound:
            raise InvalidParameter(f"parent_run {parent_run_id!r} is not a run of this workspace.") from None
    record = store.create_run(
        workspace._experiment_id(experiment),
        parent_run_id=parent_run_id,
        name=label,
        status=RunStatus.QUEUED,
        source_kind=source_kind,
        compute_target=target,
        tags=run_tags,
        user=_user(),
    )
    run_id = record.info.run_id
    try:
        if params:
            store.log_params(run_id, params)
        run = Run(workspace, run_id, record.info)  # (no read back: one round trip less per submit)
        spec = dict(spec)
        if code is not None:
            from .snapshot import take_snapshot

            result = take_snapshot(run, code)
            if result.skipped:
                raise InvalidParameter(f"The code folder cannot be snapshotted: {result.skipped}")
            spec["snapshot_run"] = run_id
        shipped: dict[str, Any] = {}
        for input_name, given in inputs.items():
            if "uri" in given:
                shipped[input_name] = {"uri": given["uri"]}
                continue
            if "data" in given:
                shipped[input_name] = {"data": given["data"], "version": given["version"]}
                continue
            path: Path = given["local"]
            if path.is_dir():
                run.log_artifacts(path, f"inputs/{input_name}")
                shipped[input_name] = {"uploaded": True, "file": None}
            else:
                run.log_artifact(path, f"inputs/{input_name}")
                shipped[input_name] = {"uploaded": True, "file": path.name}
        if shipped:
            spec["inputs"] = shipped
            spec["inputs_run"] = run_id
        if payload is not None:
            run.log_bytes(payload, "job/payload.pkl")
            spec["run_id_payload"] = run_id
        job = Job(
            job_id=job_id,
            name=label,
            kind=kind,
            target=target,
            experiment_id=record.info.experiment_id,
            run_id=run_id,
            priority=int(priority),
            max_retries=int(max_retries),
            spec=spec,
        )
        return store.create_job(job)
    except BaseException:
        try:
            store.delete_run(run_id)
        except Exception:
            pass
        raise


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return None


def jobs_frame(records: list[Job], pd: Any) -> Any:
    """The `ws.jobs.list()` table; queue position counts per target, priority first, then FIFO."""
    queued = sorted(
        (j for j in records if j.state == "queued"), key=lambda j: (j.target, -j.priority, j.submitted_ns)
    )
    position: dict[str, int] = {}
    counts: dict[str, int] = {}
    for job in queued:
        counts[job.target] = counts.get(job.target, 0) + 1
        position[job.job_id] = counts[job.target]
    rows = []
    for job in records:
        end = job.ended_time
        rows.append(
            {
                "job_id": job.job_id,
                "name": job.name,
                "kind": job.kind,
                "target": job.target,
                "state": job.state,
                "position": position.get(job.job_id),
                "priority": job.priority,
                "attempt": job.attempt,
                "node": job.node,
                "submitted": pd.to_datetime(job.submitted_time, unit="ms", utc=True),
                "started": pd.to_datetime(job.started_time, unit="ms", utc=True)
                if job.started_time
                else pd.NaT,
                "duration": (end - job.started_time) / 1000 if end and job.started_time else None,
                "exit_code": job.exit_code,
                "reason": job.state_reason,
                "run_id": job.run_id,
            }
        )
    columns = [
        "job_id",
        "name",
        "kind",
        "target",
        "state",
        "position",
        "priority",
        "attempt",
        "node",
        "submitted",
        "started",
        "duration",
        "exit_code",
        "reason",
        "run_id",
    ]
    return pd.DataFrame(rows, columns=columns)
