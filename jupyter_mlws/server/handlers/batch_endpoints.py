"""`/mlws/api/v1/batch-endpoints/...`: batch endpoints over REST (issue 16).

- `GET/POST /batch-endpoints` — list; deploy (201 with the keys when created, 200 when changed)
- `GET/PATCH/DELETE /batch-endpoints/{name}` — one endpoint; change it; delete it (its jobs stay)
- `POST /batch-endpoints/{name}/keys/{primary|secondary}` — regenerate a key (shown once)
- `GET /batch-endpoints/{name}/jobs` — the jobs it started, newest first
- `POST /batch-endpoints/{name}/jobs` — invoke: a batch job over a data asset (201)

Who calls what: the handlers call `server/batch_endpoints.py` (`BatchEndpointService`), which runs
`client/batch_endpoints.py`'s deploy, update and invoke on the server's stores; the invoke is
`ws.jobs.batch_score`, dispatched by this server's job dispatcher.

Decisions (keys, as for real-time endpoints, RELIABILITY A7): plaintext keys appear in the deploy
answer that created the endpoint and in a regeneration's answer only; no answer has the hashes or
the entry script's source (its file name only). The invoke route is the one route a batch
endpoint key opens: `Authorization: Bearer <key>` of that endpoint, compared in constant time, or
Jupyter's own authentication as every route. A key of another endpoint, a wrong key or a key for
an endpoint that does not exist are one answer, 401; a key opens no other route (Jupyter answers
403 there: it is not a Jupyter token). A key-authenticated request needs no XSRF token: a browser
never sends an `Authorization` header on its own. Its answer is the job's id and state, not the
job's spec (which holds the entry script); a key does not read jobs.
"""

from __future__ import annotations

import functools
from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from tornado import web

from ...entities import Job
from ...model_entities import BATCH_SETTINGS, BatchEndpoint
from ..batch_endpoints import BatchEndpointService
from ..endpoints import parse_key_name
from ..openapi import api_operation
from .base import MLWSHandler, route
from .endpoints import EndpointKeys, KeyRegenerated
from .jobs import JobModel

_TAGS = ("batch-endpoints",)
_REALM = 'Bearer realm="mlws batch endpoint"'


# ----- answers -------------------------------------------------------------------------------
class BatchSettingsModel(BaseModel):
    """The settings of a batch endpoint's jobs (`ws.jobs.batch_score`'s)."""

    mini_batch_size: int = Field(description="Files (or rows) per mini-batch.")
    error_threshold: int = Field(description="Failed items tolerated; -1 for any number.")
    max_retries: int = Field(description="Retries of a failed mini-batch.")
    timeout: float = Field(description="Seconds one mini-batch may run.")
    output_action: str = Field(description="append_row or summary_only.")
    output_file: str = Field(description="The output table's name in the run's outputs/.")


class LastJobModel(BaseModel):
    """The job the endpoint's last invoke started."""

    job_id: str
    state: str = Field(description="queued, running, completed, failed, canceled or killed.")
    state_reason: str | None = None
    run_id: str
    submitted_time: int
    ended_time: int | None = None


class BatchEndpointModel(BaseModel):
    """A batch endpoint (never with key material or the entry script's source)."""

    name: str
    model: str | None = Field(
        description="The reference as given ('name@alias' follows the alias at each invoke)."
    )
    target: str = Field(description="The cluster its jobs run on.")
    defaults: BatchSettingsModel
    entry_script: str | None = Field(None, description="The entry script's file name, if it has one.")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    last_job_id: str | None = None
    last_job: LastJobModel | None = None
    created_time: int
    updated_time: int

    @classmethod
    def of(cls, endpoint: BatchEndpoint, last: Job | None) -> BatchEndpointModel:
        fields = endpoint.to_dict()  # without the key hashes and the script's source
        fields["defaults"] = {**BATCH_SETTINGS, **fields["defaults"]}
        job = None
        if last is not None:
            job = LastJobModel(**{k: v for k, v in last.to_dict().items() if k in LastJobModel.model_fields})
        return cls(**fields, last_job=job)


class BatchEndpointCreated(BatchEndpointModel):
    """The deploy answer: the only time both keys are shown (the store keeps their hashes)."""

    keys: EndpointKeys | None = Field(
        None,
        description="The plaintext keys, shown once when the endpoint is created; null when it was changed.",
    )


class BatchEndpointList(BaseModel):
    batch_endpoints: list[BatchEndpointModel]


class BatchJobList(BaseModel):
    jobs: list[JobModel]


class BatchJobsQuery(BaseModel):
    limit: int | None = Field(None, ge=1, le=1000, description="Default 100.")


class BatchJobStarted(BaseModel):
    """An invoke's answer: the job it queued (follow it with `GET /jobs/{job_id}` and a Jupyter token)."""

    job_id: str
    endpoint: str
    name: str
    state: str
    run_id: str = Field(description="The run of the job's first attempt: its outputs/ hold the predictions.")
    target: str
    experiment_id: int
    submitted_time: int


# ----- bodies --------------------------------------------------------------------------------
class ScriptBody(BaseModel):
    """An entry script: `init()` and `run(mini_batch)`, as Azure ML's batch scoring scripts."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100, description="Its file name, e.g. 'score.py'.")
    source: str = Field(max_length=1024 * 1024)


class BatchSettingsBody(BaseModel):
    """Settings given in a body; those left out keep their value (Azure ML's defaults when new)."""

    model_config = ConfigDict(extra="forbid")
    mini_batch_size: StrictInt | None = Field(None, ge=1, le=10**7)
    error_threshold: StrictInt | None = Field(None, ge=-1, le=10**12)
    max_retries: StrictInt | None = Field(None, ge=0, le=100)
    timeout: StrictFloat | StrictInt | str | None = Field(None, description="Seconds, or a text like '5m'.")
    output_action: str | None = Field(None, description="append_row or summary_only.")
    output_file: str | None = None


class DeployBatchEndpoint(BatchSettingsBody):
    name: str = Field(description="Lowercase letters, digits and '-', at most 63 characters.")
    model: str | None = Field(
        None, description="'name', 'name:3' or 'name@alias'; needed when new (or a script)."
    )
    target: str | None = Field(None, description="A cluster's name; needed when new.")
    entry_script: ScriptBody | None = None
    description: str | None = None
    tags: dict[str, str] | None = None


class UpdateBatchEndpoint(BatchSettingsBody):
    """Only the fields given change; `entry_script: null` removes the script."""

    model: str | None = None
    target: str | None = None
    entry_script: ScriptBody | None = None
    description: str | None = None
    tags: dict[str, str] | None = None


class InvokeBatchEndpoint(BatchSettingsBody):
    """What to score, and settings for this job only."""

    inputs: str = Field(description="A data asset: 'data:name' (its newest version) or 'data:name:3'.")


# ----- handlers ------------------------------------------------------------------------------
class BatchEndpointsHandler(MLWSHandler):
    """What the batch-endpoint handlers share: the server-side service."""

    auth_resource = "mlws:endpoints"
    needs_extension = True

    @property
    def batch(self) -> BatchEndpointService:
        return BatchEndpointService.of(self.services, self.settings)

    async def answer(self, name: str) -> BatchEndpointModel:
        return BatchEndpointModel.of(*await self.services.run(self.batch.get, name))


class BatchEndpointListHandler(BatchEndpointsHandler):
    @route("List batch endpoints", response=BatchEndpointList, errors=(403, 503), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.batch.list)
        self.write_model(BatchEndpointList(batch_endpoints=[BatchEndpointModel.of(*f) for f in found]))

    @route(
        "Deploy a batch endpoint: created with its keys (201), or the fields given changed (200)",
        body=DeployBatchEndpoint,
        response=BatchEndpointCreated,
        status=201,
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(DeployBatchEndpoint)
        fields = body.model_dump(exclude={"name"}, exclude_none=True)  # left out: unchanged
        endpoint, keys = await self.services.run(lambda: self.batch.deploy(body.name, **fields))
        _, last = await self.services.run(self.batch.with_last_job, endpoint)
        answer = BatchEndpointCreated(
            **BatchEndpointModel.of(endpoint, last).model_dump(), keys=EndpointKeys(**keys) if keys else None
        )
        self.set_header("Cache-Control", "no-store")  # key material: no cache keeps a copy
        self.write_model(answer, status=201 if keys else 200)


class BatchEndpointHandler(BatchEndpointsHandler):
    @route(
        "A batch endpoint (no key material)", response=BatchEndpointModel, errors=(403, 404, 503), tags=_TAGS
    )
    async def get(self, name: str) -> None:
        self.write_model(await self.answer(name))

    @route(
        "Change a batch endpoint's model, target, settings, entry script, description or tags",
        body=UpdateBatchEndpoint,
        response=BatchEndpointModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str) -> None:
        given = self.parse_changes(UpdateBatchEndpoint)
        await self.services.run(lambda: self.batch.update(name, **given))
        self.write_model(await self.answer(name))

    @route("Delete a batch endpoint (its keys stop working; its jobs stay)", status=204, tags=_TAGS)
    async def delete(self, name: str) -> None:
        await self.services.run(self.batch.delete, name)
        self.write_no_content()


class BatchEndpointKeyHandler(BatchEndpointsHandler):
    @route(
        "Regenerate the primary or secondary key (the new key is shown once; the old one stops at once)",
        response=KeyRegenerated,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def post(self, name: str, key_name: str) -> None:
        which = parse_key_name(key_name)
        key = await self.services.run(self.batch.regenerate_key, name, which)
        self.set_header("Cache-Control", "no-store")  # key material: no cache keeps a copy
        self.write_model(KeyRegenerated(endpoint=name, key_name=which, key=key))


def key_or_token(summary: str, **operation: Any) -> Any:
    """`route(...)` for the one route a batch endpoint key opens: a request with no Jupyter identity
    but `Authorization: Bearer <key>` is let through when the key is one of the endpoint's (else
    401); every other request goes through `@web.authenticated` and `@authorized` as on any route.

    Jupyter's own gate (`allow_unauthenticated_access = False`) is told to let the method decide
    (`__allow_unauthenticated`): the decision is made here, deny by default.
    """

    def declare(method: Any) -> Any:
        checked = web.authenticated(authorized(method))

        @functools.wraps(checked)
        async def either(self: BatchEndpointJobsHandler, *args: Any, **kwargs: Any) -> Any:
            key = self.endpoint_key()
            if not self.current_user and key is not None:
                if not await self.services.run(self.batch.key_matches, kwargs["name"], key):
                    raise web.HTTPError(401, "The key is not a key of this batch endpoint.")
                return await method(self, *args, **kwargs)
            return await checked(self, *args, **kwargs)

        either.__allow_unauthenticated = True  # type: ignore[attr-defined]
        return api_operation(summary, **operation)(either)

    return declare


class BatchEndpointJobsHandler(BatchEndpointsHandler):
    def endpoint_key(self) -> str | None:
        """The key of `Authorization: Bearer <key>`, if the request carries one."""
        header = self.request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return key.strip() or None

    def check_xsrf_cookie(self) -> None:
        """A request that brings a bearer key and no Jupyter identity needs no XSRF token (a browser
        never adds an Authorization header by itself); the key is checked by `key_or_token`."""
        # (tornado asks once before `prepare` has found the Jupyter identity: read it, don't compute it)
        if getattr(self, "_jupyter_current_user", None) is None and self.endpoint_key() is not None:
            return
        super().check_xsrf_cookie()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:
            self.set_header("WWW-Authenticate", _REALM)
        super().write_error(status_code, **kwargs)

    @route(
        "The jobs a batch endpoint started, newest first",
        query=BatchJobsQuery,
        response=BatchJobList,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def get(self, name: str) -> None:
        limit = self.int_argument("limit", 1, 1000) or 100
        found = await self.services.run(self.batch.jobs, name, limit)
        self.write_model(BatchJobList(jobs=[JobModel.of(j) for j in found]))

    @key_or_token(
        "Invoke a batch endpoint: a batch job over a data asset (Jupyter auth, or 'Authorization: "
        "Bearer <key>' with one of the endpoint's keys)",
        body=InvokeBatchEndpoint,
        response=BatchJobStarted,
        status=201,
        errors=(400, 401, 403, 404, 503),
        tags=_TAGS,
    )
    async def post(self, name: str) -> None:
        body = self.parse_body(InvokeBatchEndpoint)
        overrides = body.model_dump(exclude={"inputs"}, exclude_none=True)
        job = await self.services.run(self.batch.invoke, name, body.inputs, overrides)
        record = job.record
        started = BatchJobStarted(
            job_id=record.job_id,
            endpoint=name,
            name=record.name,
            state=record.state,
            run_id=record.run_id,
            target=record.target,
            experiment_id=record.experiment_id,
            submitted_time=record.submitted_time,
        )
        self.write_model(started, status=201)
