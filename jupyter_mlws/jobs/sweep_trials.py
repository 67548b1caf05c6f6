"""A sweep's trial as a job and a child run (issue 18), for `SweepDriver` (`jobs/sweep_driver.py`).

`trial_job` writes one trial: a child run of the sweep's run with the trial's values as params,
tagged `mlws.sweep.id` / `mlws.sweep.trial` / `mlws.sweep.optuna` (its Optuna values, from which a
resumed driver rebuilds the study), whose code snapshot, inputs and function payload are the sweep
run's (stored once, at submit); then its job. Two ways:
- queued (`host=None`): the job enters the queue and a node runs it in a process of its own, like
  any job (commands, notebooks, and functions with `reuse_processes=False`);
- on a warm host (`host` = the slot's worker and pid, `owner` = the dispatcher): the run and the job
  are written `running` on that node, owned by the driver's dispatcher (which watches the node and
  kills the process on a cancel as for any running job); the host runs the trial and ends both.
  The job's spec is a queued job's, so a retry after a lost node runs it the ordinary way.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..entities import Job, RunStatus

SWEEP_TAG = "mlws.sweep.id"
TRIAL_TAG = "mlws.sweep.trial"
OPTUNA_TAG = "mlws.sweep.optuna"


def trial_job(
    store: Any,
    sweep_spec: dict[str, Any],
    lineage: dict[str, str],
    number: int,
    values: dict[str, Any],
    internal: dict[str, Any],
    host: tuple[str, int | None, str] | None = None,
    parent_info: Any = None,
) -> Job:
    """Trial `number`'s run and job (the module docstring); `host` = (node, pid, owner) or None;
    `parent_info`: the sweep run's `RunInfo` when the caller has it (else it is read)."""
    from . import submit as sub

    sweep, parent = sweep_spec["sweep"], sweep_spec
    trial = sweep["trial"]
    submit = sweep.get("submit") or {}
    spec: dict[str, Any] = {
        "resources": submit.get("resources") or {},
        "timeout_seconds": submit.get("timeout_seconds"),
        "environment_variables": dict(submit.get("environment_variables") or {}),
    }
    for key in ("snapshot_run", "inputs", "inputs_run", "run_id_payload"):
        if parent.get(key):
            spec[key] = parent[key]
    params = {k: _param_text(v) for k, v in values.items()}
    kind = trial["kind"]
    if kind == "command":
        argv = [fill(str(a), values) for a in trial["command"]]
        spec.update(command=argv, shell=bool(trial.get("shell")))
        params.update(sub.script_params(argv))
    elif kind == "notebook":
        spec.update(notebook=trial["notebook"], parameters={**(trial.get("parameters") or {}), **values})
    else:
        spec.update(function_name=trial.get("function_name"), kwargs=values)
    job_id = uuid.uuid4().hex
    base = submit.get("name") or sweep.get("name") or "sweep"
    tags = {
        **(submit.get("tags") or {}),
        SWEEP_TAG: parent["run_id"],
        TRIAL_TAG: str(number),
        OPTUNA_TAG: json.dumps(internal),
        "mlws.job.id": job_id,
        "mlws.job.kind": kind,
        "mlws.job.attempt": "1",
    }
    tags.update(lineage)  # the data versions the sweep's inputs pinned
    if parent_info is None:
        parent_info = store.get_run_info(parent["run_id"])
    record = store.create_run(
        parent_info.experiment_id,
        parent_run_id=parent["run_id"],
        name=f"{base} trial {number}",
        status=RunStatus.QUEUED if host is None else RunStatus.RUNNING,
        source_kind="job",
        compute_target=parent["target"],
        tags=tags,
        user=parent_info.user,
    )
    run_id = record.info.run_id
    try:
        store.log_params(run_id, params)
        job = Job(
            job_id=job_id,
            name=f"{base} trial {number}",
            kind=kind,
            target=parent["target"],
            experiment_id=parent_info.experiment_id,
            run_id=run_id,
            priority=int(submit.get("priority") or 0),
            max_retries=int(submit.get("max_retries") or 0),
            spec=spec,
        )
        if host is not None:
            job.state, job.node, job.pid, job.owner = "running", host[0], host[1], host[2]
            job.started_time = int(time.time() * 1000)
        return store.create_job(job)
    except BaseException:
        try:
            store.delete_run(run_id)
        except Exception:
            pass
        raise


def host_spec(sweep_spec: dict[str, Any]) -> dict[str, Any]:
    """What a warm host needs to ready its folder once: the payload, code, inputs, environment."""
    submit = sweep_spec["sweep"].get("submit") or {}
    spec: dict[str, Any] = {
        "workspace": sweep_spec["workspace"],
        "target": sweep_spec["target"],
        "run_id": sweep_spec["run_id"],
        "job_id": sweep_spec["job_id"],
        "timeout_seconds": submit.get("timeout_seconds"),
        "environment_variables": dict(submit.get("environment_variables") or {}),
    }
    for key in ("snapshot_run", "inputs", "inputs_run", "run_id_payload"):
        if sweep_spec.get(key):
            spec[key] = sweep_spec[key]
    return spec


def fill(argument: str, values: dict[str, Any]) -> str:
    """A command argument with `${{search_space.<name>}}` replaced by the trial's value."""
    for name, value in values.items():
        argument = argument.replace("${{search_space." + name + "}}", str(value))
    return argument


def _param_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)
