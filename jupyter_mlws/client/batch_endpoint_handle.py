"""The Python API of batch endpoints: `ws.endpoints.deploy_batch(...)` and the handle it returns.

Who calls it: users (`ws.endpoints` is `Endpoints` in client/endpoints.py, which takes
`BatchEndpointsMixin` from here) and the `jupyter mlws batch-endpoints` commands. The store-side
halves — `deploy`, `update`, `invoke`, `regenerate_key`, `jobs_of`, the checks — and the decisions
are in client/batch_endpoints.py, which the server's routes call too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..model_entities import BatchEndpoint
from ..validation import validate_endpoint_name
from .batch_endpoints import (
    LIST_COLUMNS,
    UNSET,
    check_settings,
    deploy,
    invoke,
    jobs_of,
    read_script,
    regenerate_key,
)
from .endpoint_handle import EndpointKeys

if TYPE_CHECKING:
    import pandas as pd

    from ..entities import Job
    from .batch import BatchJob


class BatchEndpointHandle:
    """One batch endpoint: its definition, keys (when this handle made them), invoke and jobs."""

    def __init__(self, endpoints: Any, record: BatchEndpoint, keys: EndpointKeys | None = None) -> None:
        self._endpoints = endpoints
        self.record = record
        self.keys = keys or EndpointKeys()

    def __repr__(self) -> str:
        scorer = self.record.model or self.record.entry_script
        return f"<BatchEndpoint {self.name} {scorer} on {self.record.target}>"

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def defaults(self) -> dict[str, Any]:
        """The settings each job gets unless an invoke overrides them."""
        return dict(self.record.defaults)

    @property
    def _workspace(self) -> Any:
        return self._endpoints.workspace

    def refresh(self) -> BatchEndpointHandle:
        self.record = self._workspace.store.get_batch_endpoint(self.name)
        return self

    def invoke(self, inputs: Any, **overrides: Any) -> BatchJob:
        """A batch job over `inputs` ("data:name[:v]", a folder, file or glob, a DataFrame on a
        folder workspace) with the endpoint's model, target and settings; `overrides` change the
        settings for this job only (mini_batch_size, error_threshold, max_retries, timeout,
        output_action, output_file). Returns at once; `.wait()`, `.predictions()` on the job."""
        ws = self._workspace
        if not ws.is_remote:
            return invoke(ws, ws.store.get_batch_endpoint(self.name), inputs, overrides)
        from .batch import BatchJob

        ref = _remote_input(ws, self.name, inputs)
        started = ws.store.invoke_batch_endpoint(self.name, ref, **check_settings(overrides, "override"))
        return BatchJob(ws.jobs, ws.store.get_job(started["job_id"]))

    def jobs(self, limit: int = 100) -> pd.DataFrame:
        """The jobs this endpoint started, newest first (as `ws.jobs.list()` shows them)."""
        import pandas as pd

        from .jobs import jobs_frame

        return jobs_frame(self.job_records(limit), pd)

    def job_records(self, limit: int = 100) -> list[Job]:
        """The `Job`s this endpoint started, newest first."""
        ws = self._workspace
        if ws.is_remote:
            return list(ws.store.batch_endpoint_jobs(self.name, limit))
        return jobs_of(ws.store, self.refresh().record, limit)

    def update(self, **options: Any) -> BatchEndpointHandle:
        """Change the model, target, settings, entry script, description or tags (see `deploy_batch`)."""
        self.record = self._endpoints.deploy_batch(self.name, **options).record
        return self

    def regenerate_key(self, slot: str = "primary") -> str:
        """A new key for `slot`; the old one stops working at once."""
        return str(self._endpoints.regenerate_batch_key(self.name, slot))

    def delete(self) -> None:
        self._endpoints.delete_batch(self.name)


def _remote_input(ws: Any, name: str, inputs: Any) -> str:
    """The "data:name:v" a server can read for `inputs` (a local folder, file or glob registered)."""
    if isinstance(inputs, (str, os.PathLike)):
        text = os.fspath(inputs)
        if text.startswith("data:"):
            return text
        if "://" in text or set("*?[") & set(text) or os.path.exists(os.path.expanduser(text)):
            version = ws.data.register(f"{name}-input", text, description=f"batch input from {text}")
            return f"data:{version.ref}"
        try:
            return f"data:{ws.data.get(text).ref}"
        except (NotFound, InvalidParameter):
            raise NotFound(f"{text!r} is neither a data asset nor a file, folder or glob here.") from None
    raise InvalidParameter(
        "On a workspace URL a batch endpoint scores a data asset ('data:name[:v]') or a local folder, file "
        f"or glob (registered first), not a {type(inputs).__name__}; ws.jobs.batch_score scores a DataFrame."
    )


class BatchEndpointsMixin:
    """The batch-endpoint part of `ws.endpoints` (a base of `Endpoints`, client/endpoints.py)."""

    workspace: Any

    def deploy_batch(
        self,
        name: str,
        model: str | None = None,
        *,
        target: str | None = None,
        mini_batch_size: int | None = None,
        error_threshold: int | None = None,
        max_retries: int | None = None,
        timeout: Any = None,
        output_action: str | None = None,
        output_file: str | None = None,
        entry_script: str | os.PathLike[str] | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> BatchEndpointHandle:
        """Create batch endpoint `name` scoring `model` ("name", "name:3", "name@alias": resolved at
        each invoke) on cluster `target`, with these job settings (Azure ML's defaults where not
        given): the handle has its keys, this once. On an existing endpoint, change what is given
        (None: unchanged); no keys then."""
        settings = {
            "mini_batch_size": mini_batch_size,
            "error_threshold": error_threshold,
            "max_retries": max_retries,
            "timeout": timeout,
            "output_action": output_action,
            "output_file": output_file,
        }
        script = UNSET if entry_script is None else entry_script
        ws = self.workspace
        if ws.is_remote:
            given = check_settings(settings)
            if script is not UNSET:
                name_, source = read_script(script)
                given["entry_script"] = {"name": name_, "source": source}
            record, plain = ws.store.deploy_batch_endpoint(
                name,
                model=model,
                target=target,
                description=description,
                tags=dict(tags) if tags is not None else None,
                **given,
            )
        else:
            record, plain = deploy(
                ws,
                name,
                model=model,
                target=target,
                settings=settings,
                entry_script=script,
                description=description,
                tags=tags,
            )
        keys = EndpointKeys(plain["primary"], plain["secondary"]) if plain else None
        return BatchEndpointHandle(self, record, keys)

    def get_batch(self, name: str) -> BatchEndpointHandle:
        """A handle on batch endpoint `name` (no keys: they are shown only once)."""
        return BatchEndpointHandle(
            self, self.workspace.store.get_batch_endpoint(validate_endpoint_name(name))
        )

    def list_batch(self) -> pd.DataFrame:
        """Every batch endpoint, one row each, with the state of the job its last invoke started."""
        import pandas as pd

        store = self.workspace.store
        rows = []
        for ep in store.list_batch_endpoints():
            state = None
            if ep.last_job_id:
                try:
                    state = store.get_job(ep.last_job_id).state
                except NotFound:
                    pass
            rows.append(
                {
                    **ep.defaults,
                    "name": ep.name,
                    "model": ep.model,
                    "target": ep.target,
                    "entry_script": ep.entry_script,
                    "last_job_id": ep.last_job_id,
                    "last_job_state": state,
                    "description": ep.description,
                    "created": pd.to_datetime(ep.created_time, unit="ms", utc=True),
                    "updated": pd.to_datetime(ep.updated_time, unit="ms", utc=True),
                }
            )
        return pd.DataFrame(rows, columns=LIST_COLUMNS)

    def delete_batch(self, name: str) -> None:
        """Delete batch endpoint `name`; its keys stop working, the jobs it started stay."""
        self.workspace.store.delete_batch_endpoint(validate_endpoint_name(name))

    def regenerate_batch_key(self, name: str, slot: str = "primary") -> str:
        """A new key for `slot` ("primary"/"secondary") of batch endpoint `name`, shown this once."""
        ws = self.workspace
        if ws.is_remote:
            if slot not in ("primary", "secondary"):
                raise InvalidParameter(
                    f"The key to regenerate is 'primary' or 'secondary', not {str(slot)[:40]!r}."
                )
            return str(ws.store.regenerate_batch_endpoint_key(validate_endpoint_name(name), slot))
        return regenerate_key(ws, name, slot)
