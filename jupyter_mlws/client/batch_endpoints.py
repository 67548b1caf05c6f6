"""Batch endpoints (issue 16): a named, keyed way to start batch-scoring jobs, as Azure ML's.

    ep = ws.endpoints.deploy_batch("diabetes-batch", model="diabetes@production", target="cpu",
                                   mini_batch_size=5)
    ep.keys.primary                                   # shown once: here
    job = ep.invoke("data:diabetes-rows", error_threshold=0)   # a BatchJob (client/batch.py)
    job.wait(); job.predictions()
    ep.jobs()                                         # the jobs it started, newest first
    ws.endpoints.list_batch(); ws.endpoints.get_batch("diabetes-batch"); ws.endpoints.delete_batch(...)

Who calls what: `ws.endpoints` (`Endpoints` in client/endpoints.py, which takes
`BatchEndpointsMixin` from client/batch_endpoint_handle.py) and the `jupyter mlws batch-endpoints`
commands call the handle there and the functions below; the server's routes
(server/batch_endpoints.py) call the same `deploy`, `update`, `invoke` and `jobs_of` on the
server's own stores, so an invoke over REST and one from Python are one code path:
`ws.jobs.batch_score` (client/batch.py).

Decisions:
- The model reference is kept as given and resolved at every invoke, so "diabetes@production"
  follows the alias as Azure ML's default deployment does. At deploy it must resolve now (and a
  model whose loading runs code must be trusted), and the target must be a cluster: a typo fails
  at deploy, not at the first invoke.
- Keys as a real-time endpoint's (serving/keys.py): two random keys, only their sha256 stored,
  the plaintext in the handle of the deploy that created the endpoint and in regenerate's answer.
  A key opens one route, `POST /batch-endpoints/{name}/jobs` of its own endpoint.
- An invoke is `batch_score` with the endpoint's model, target and settings; only the settings
  (`BATCH_SETTINGS`) may be overridden. The job goes into the experiment named after the
  endpoint, carries the run tag `mlws.batch.endpoint`, and a folder, file or glob input is
  registered as the data asset "<endpoint>-input" (a new version only when the bytes changed).
  The endpoint remembers the job as its last (the panel shows its state).
- `deploy_batch` on an existing endpoint changes what is given (None: unchanged) and returns no
  keys. Settings are checked as `batch_score` checks them, at deploy and at each invoke.
- On a workspace URL the server deploys, rotates keys and invokes (POST /batch-endpoints...): a
  data asset input goes as it is, a local folder, file or glob is registered first (its files
  uploaded); a DataFrame is refused there (`ws.jobs.batch_score` scores one).
- `jobs()` finds the runs tagged with the endpoint and their jobs, newest first, since the
  endpoint was created: a re-created endpoint does not inherit its namesake's jobs.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..model_entities import BATCH_SETTINGS, BatchEndpoint
from ..validation import validate_endpoint_name

if TYPE_CHECKING:

    from ..entities import Job
    from .batch import BatchJob

#: The run tag naming the batch endpoint whose invoke started a job.
ENDPOINT_TAG = "mlws.batch.endpoint"
#: The `deploy`/`update` value of `entry_script` that means "leave it as it is".
UNSET: Any = object()
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
LIST_COLUMNS = [
    "name",
    "model",
    "target",
    "entry_script",
    *BATCH_SETTINGS,
    "last_job_id",
    "last_job_state",
    "description",
    "created",
    "updated",
]


# ----- checks ----------------------------------------------------------------------------------
def check_settings(given: Mapping[str, Any], what: str = "setting") -> dict[str, Any]:
    """The batch settings in `given` (None values left out), checked as `batch_score` checks them."""
    from ..jobs.submit import parse_timeout
    from .batch import _OUTPUT_NAME, OUTPUT_ACTIONS, _whole

    unknown = sorted(set(given) - set(BATCH_SETTINGS))
    if unknown:
        raise InvalidParameter(f"Unknown batch {what}s {unknown}: they are {', '.join(BATCH_SETTINGS)}.")
    out: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if key == "mini_batch_size":
            out[key] = _whole(value, key, 1, 10**7, "the number of files (or rows) per mini-batch")
        elif key == "error_threshold":
            out[key] = _whole(value, key, -1, 10**12, "failed items tolerated, -1 for any")
        elif key == "max_retries":
            out[key] = _whole(value, key, 0, 100, "retries of a failed mini-batch")
        elif key == "timeout":
            out[key] = parse_timeout(value)
        elif key == "output_action":
            if value not in OUTPUT_ACTIONS:
                raise InvalidParameter(f"output_action is one of {', '.join(OUTPUT_ACTIONS)}, not {value!r}.")
            out[key] = value
        elif not isinstance(value, str) or not _OUTPUT_NAME.match(value) or value.endswith(".partial.csv"):
            raise InvalidParameter(
                f"output_file is a plain file name such as 'predictions.csv', not {value!r}."
            )
        else:
            out[key] = value
    return out


def read_script(entry_script: Any) -> tuple[str, str]:
    """(file name, source) of an entry script: a path here, or `{"name", "source"}` as REST sends
    it; checked as `batch_score` checks a script (size, it compiles, it defines run)."""
    from .batch import _read_script

    if isinstance(entry_script, Mapping):
        name, source = entry_script.get("name"), entry_script.get("source")
        if not isinstance(name, str) or not _SCRIPT_NAME.fullmatch(name):
            raise InvalidParameter(
                f"An entry script's name is a plain file name such as 'score.py', not {name!r}."
            )
        if not isinstance(source, str):
            raise InvalidParameter(f"The entry script {name!r} needs its source as text.")
        with tempfile.TemporaryDirectory(prefix="mlws-batch-script-") as scratch:
            path = Path(scratch) / name
            path.write_text(source)
            checked = _read_script(path)
    elif isinstance(entry_script, (str, os.PathLike)):
        checked = _read_script(entry_script)
    else:
        raise InvalidParameter(
            f"entry_script is the path of a Python file, not {type(entry_script).__name__}."
        )
    return checked["name"], checked["source"]


def _check_model(workspace: Any, model: str) -> None:
    from .batch import _check_trust

    if not isinstance(model, str):
        raise InvalidParameter(f"model is a reference such as 'diabetes@production', not {model!r}.")
    _check_trust(workspace.models.get(model))


def _check_target(workspace: Any, target: str) -> str:
    from ..jobs.submit import check_target

    return str(check_target(workspace.store, target).name)


# ----- what the client and the server both call ---------------------------------------------------
def deploy(
    workspace: Any,
    name: str,
    *,
    model: str | None = None,
    target: str | None = None,
    settings: Mapping[str, Any] | None = None,
    entry_script: Any = UNSET,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> tuple[BatchEndpoint, dict[str, str] | None]:
    """Create batch endpoint `name` (its plaintext keys returned, this once), or change the given
    fields of an existing one (no keys). Blocking; `workspace` is a Workspace or the server's."""
    from ..serving.keys import new_keys

    store = workspace.store
    try:
        store.get_batch_endpoint(validate_endpoint_name(name))
    except NotFound:
        pass
    else:
        return update(
            workspace,
            name,
            model=model,
            target=target,
            settings=settings,
            entry_script=entry_script,
            description=description,
            tags=tags,
        ), None
    checked = check_settings(settings or {})
    script = read_script(entry_script) if entry_script not in (UNSET, None) else None
    if model is None and script is None:
        raise InvalidParameter(
            "A batch endpoint needs a model (model='diabetes@production'), an entry_script, or both."
        )
    if target is None:
        raise InvalidParameter(
            "A batch endpoint needs a target: the name of a cluster (ws.compute.clusters())."
        )
    if model is not None:
        _check_model(workspace, model)
    plain, hashes = new_keys()
    record = store.create_batch_endpoint(
        BatchEndpoint(
            name=name,
            model=model,
            target=_check_target(workspace, target),
            defaults={**BATCH_SETTINGS, **checked},
            entry_script=script[0] if script else None,
            entry_source=script[1] if script else None,
            key_hashes=hashes,
            description=description or "",
            tags=dict(tags or {}),
        )
    )
    return record, plain


def update(
    workspace: Any,
    name: str,
    *,
    model: str | None = None,
    target: str | None = None,
    settings: Mapping[str, Any] | None = None,
    entry_script: Any = UNSET,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> BatchEndpoint:
    """Change what is given of batch endpoint `name` (`NotFound`); `entry_script=None` removes the
    script (the endpoint then scores with its model's own predict)."""
    store = workspace.store
    record = store.get_batch_endpoint(validate_endpoint_name(name))
    changes: dict[str, Any] = {}
    if model is not None:
        _check_model(workspace, model)
        changes["model"] = model
    if target is not None:
        changes["target"] = _check_target(workspace, target)
    checked = check_settings(settings or {})
    if checked:
        changes["defaults"] = {**record.defaults, **checked}
    if entry_script is None:
        changes.update(entry_script=None, entry_source=None)
    elif entry_script is not UNSET:
        changes["entry_script"], changes["entry_source"] = read_script(entry_script)
    if description is not None:
        changes["description"] = description
    if tags is not None:
        changes["tags"] = dict(tags)
    return store.update_batch_endpoint(name, **changes) if changes else record


def invoke(workspace: Any, endpoint: BatchEndpoint, inputs: Any, overrides: Mapping[str, Any]) -> BatchJob:
    """Start a batch job of `endpoint` over `inputs` (see the module docstring); returns at once."""
    from .batch import batch_score

    settings = {**endpoint.defaults, **check_settings(overrides, "override")}
    with tempfile.TemporaryDirectory(prefix="mlws-batch-endpoint-") as scratch:
        script = None
        if endpoint.entry_script is not None:
            if endpoint.entry_source is None:  # read over REST: the server holds the source
                raise InvalidParameter(f"Invoke batch endpoint {endpoint.name!r} through its server.")
            script = Path(scratch) / endpoint.entry_script
            script.write_text(endpoint.entry_source)
        job: BatchJob = batch_score(
            workspace.jobs,
            endpoint.model,
            inputs,
            target=endpoint.target,
            entry_script=script,
            experiment=endpoint.name,
            name=endpoint.name,
            input_name=f"{endpoint.name}-input",
            tags={ENDPOINT_TAG: endpoint.name},
            **settings,
        )
    try:
        workspace.store.update_batch_endpoint(endpoint.name, last_job_id=job.id)
    except NotFound:
        pass  # deleted meanwhile: its job runs all the same
    return job


def regenerate_key(workspace: Any, name: str, slot: str) -> str:
    """A new plaintext key for `slot` of batch endpoint `name` (its hash stored); the old one stops
    working at once."""
    from ..serving.keys import KEY_SLOTS, hash_key, new_key

    if slot not in KEY_SLOTS:
        raise InvalidParameter(f"The key to regenerate is 'primary' or 'secondary', not {str(slot)[:40]!r}.")
    record = workspace.store.get_batch_endpoint(validate_endpoint_name(name))
    key = new_key()
    workspace.store.update_batch_endpoint(name, key_hashes={**record.key_hashes, slot: hash_key(key)})
    return key


def jobs_of(store: Any, endpoint: BatchEndpoint, limit: int = 100) -> list[Job]:
    """The jobs `endpoint` started since it was created, newest first (see the module docstring)."""
    table = store.search_runs(None, filter=f"tags.{ENDPOINT_TAG} = '{endpoint.name}'", limit=1000)
    ids = list(dict.fromkeys(i for i in table.tags.get("mlws.job.id", []) if i))
    found = []
    for job_id in ids:
        try:
            job = store.get_job(job_id)
        except NotFound:
            continue
        if job.submitted_time >= endpoint.created_time:
            found.append(job)
    found.sort(key=lambda j: j.submitted_ns, reverse=True)
    return found[:limit]
