"""`/mlws/api/v1/jobs/...`: the job queue (issue 15).

- `GET/POST /jobs` — list (newest first, `state`, `target`, `limit`), queue a job
- `GET/PATCH /jobs/{id}` — one job; PATCH is a compare-and-set (`expect`) used by nodes that reach
  the workspace through this server, and by `cancel_requested`
- `POST /jobs/{id}/cancel` — cancel: a queued job leaves the queue, a running one is killed
- `GET/POST /jobs/{id}/logs` — the live output after the `since` cursor; nodes append to it

Decisions: a job arrives here fully formed by the client (`jobs/submit.py` checked it and stored
its run, code snapshot, inputs and payload through the other routes); the server checks that its
target is a cluster and its run exists, and takes only the fields a new job may have (it is
`queued`, owned by nobody, attempt 1). Every change wakes the server's dispatcher
(`server/jobs.py`), so a submit reaches its node without waiting for the next look.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ...entities import JOB_KINDS, Job, JobLogChunk
from ...errors import InvalidParameter
from .base import MLWSHandler, route

_TAGS = ("jobs",)
#: The most retries a job may ask for (jobs/submit.py says the same to Python callers).
MAX_RETRIES = 100


class JobModel(BaseModel):
    """A job of the queue: its state, attempt, node and run."""

    job_id: str
    name: str
    kind: str = Field(description="command, notebook, function or cell.")
    target: str
    experiment_id: int
    run_id: str = Field(description="The run of the current attempt.")
    state: str = Field(description="queued, running, completed, failed, canceled or killed.")
    state_reason: str | None = None
    priority: int
    attempt: int
    max_retries: int
    spec: dict[str, Any]
    owner: str | None = None
    node: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    cancel_requested: bool
    submitted_ns: int
    submitted_time: int
    started_time: int | None = None
    ended_time: int | None = None

    @classmethod
    def of(cls, job: Job) -> JobModel:
        return cls(**job.to_dict())


class JobList(BaseModel):
    jobs: list[JobModel]


class JobsQuery(BaseModel):
    state: str | None = Field(None, description="Only jobs in this state (comma-separated for several).")
    target: str | None = None
    limit: int = 500


class NewJob(BaseModel):
    """A job as `ws.jobs.submit` builds it (its run, snapshot and payload already stored)."""

    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str = Field(min_length=1, max_length=256)
    kind: str
    target: str
    experiment_id: StrictInt
    run_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    priority: StrictInt = Field(0, ge=-(2**31), le=2**31 - 1)
    max_retries: StrictInt = Field(0, ge=0, le=MAX_RETRIES)
    spec: dict[str, Any]


class JobFields(BaseModel):
    """The fields of a job that can change (as its attempts go), each optional."""

    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    state: str | None = None
    state_reason: str | None = None
    priority: StrictInt | None = Field(None, ge=-(2**31), le=2**31 - 1)
    attempt: StrictInt | None = Field(None, ge=1, le=MAX_RETRIES + 1)
    max_retries: StrictInt | None = Field(None, ge=0, le=MAX_RETRIES)
    owner: str | None = Field(None, max_length=256)
    node: str | None = Field(None, max_length=256)
    pid: StrictInt | None = Field(None, ge=0, le=2**31 - 1)
    exit_code: StrictInt | None = Field(None, ge=-(2**31), le=2**31 - 1)
    cancel_requested: StrictBool | None = None
    started_time: StrictInt | None = Field(None, ge=0, le=2**62)
    ended_time: StrictInt | None = Field(None, ge=0, le=2**62)


class JobChange(BaseModel):
    """Fields to change, applied only when the job's fields still equal `expect`."""

    model_config = ConfigDict(extra="forbid")
    expect: JobFields | None = None
    changes: JobFields


class LogChunkModel(BaseModel):
    cursor: int
    attempt: int
    stream: str
    text: str
    time_ms: int


class LogChunks(BaseModel):
    chunks: list[LogChunkModel]
    cursor: int = Field(description="Pass as `since` to read what follows.")


class AppendLogs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunks: list[tuple[StrictInt, str, str, StrictInt]] = Field(
        description="(attempt, stream, text, time_ms) in order.", max_length=10_000
    )


class Appended(BaseModel):
    appended: int


class CancelBody(BaseModel):
    """No fields: the answer comes at once; the job ends as its node reports (poll GET /jobs/{id})."""

    model_config = ConfigDict(extra="forbid")


class JobsHandler(MLWSHandler):
    auth_resource = "mlws:jobs"
    needs_extension = True

    def wake(self) -> None:
        service = self.settings.get("mlws_jobs")
        if service is not None:
            service.wake()


class JobListHandler(JobsHandler):
    @route("List jobs, newest first", query=JobsQuery, response=JobList, tags=_TAGS)
    async def get(self) -> None:
        state = self.get_query_argument("state", None)
        states = [s.strip() for s in state.split(",") if s.strip()] if state else None
        target = self.get_query_argument("target", None)
        limit = self.int_argument("limit", 1, 10_000) or 500
        found = await self.services.run(lambda: self.services.store.list_jobs(states, target, limit))
        self.write_model(JobList(jobs=[JobModel.of(j) for j in found]))

    @route(
        "Queue a job (built by the client: its run, snapshot and payload already stored)",
        body=NewJob,
        response=JobModel,
        status=201,
        errors=(400, 403, 404, 409),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(NewJob)
        if body.kind not in JOB_KINDS:
            raise InvalidParameter(f"A job's kind is one of {', '.join(JOB_KINDS)}, not {body.kind!r:.40}.")
        store = self.services.store
        await self.services.run(store.get_cluster, body.target)
        run = await self.services.run(store.get_run, body.run_id)
        if run.info.experiment_id != body.experiment_id:
            raise InvalidParameter("The job's experiment is not its run's experiment.")
        job = Job(**body.model_dump())
        service = self.settings.get("mlws_jobs")
        if service is not None and service.dispatcher is not None:
            job.owner = service.dispatcher.id  # taken at once: the dispatcher need not claim it
        created = await self.services.run(store.create_job, job)
        self.wake()
        self.write_model(JobModel.of(created), status=201)


class JobHandler(JobsHandler):
    @route("One job", response=JobModel, errors=(403, 404), tags=_TAGS)
    async def get(self, job_id: str) -> None:
        self.write_model(JobModel.of(await self.services.run(self.services.store.get_job, job_id)))

    @route(
        "Change a job when its fields still equal `expect` (nodes, cancel_requested)",
        body=JobChange,
        response=JobModel,
        errors=(400, 403, 404, 409),
        tags=_TAGS,
    )
    async def patch(self, job_id: str) -> None:
        body = self.parse_body(JobChange)
        expect = body.expect.model_dump(exclude_unset=True) if body.expect is not None else None
        changes = body.changes.model_dump(exclude_unset=True)
        if not changes:
            raise InvalidParameter("Name at least one field to change in `changes`.")
        store = self.services.store
        changed = await self.services.run(lambda: store.update_job(job_id, expect, **changes))
        self.wake()
        self.write_model(JobModel.of(changed))


class JobCancelHandler(JobsHandler):
    @route("Cancel a job", body=CancelBody, response=JobModel, errors=(400, 403, 404), tags=_TAGS)
    async def post(self, job_id: str) -> None:
        self.parse_body(CancelBody) if self.body else None
        store = self.services.store
        job = await self.services.run(store.get_job, job_id)
        if not job.ended:
            job = await self.services.run(lambda: store.update_job(job_id, cancel_requested=True))
            self.wake()
        self.write_model(JobModel.of(job))


class JobLogsHandler(JobsHandler):
    @route("A job's output after the `since` cursor", response=LogChunks, errors=(403, 404), tags=_TAGS)
    async def get(self, job_id: str) -> None:
        since = self.int_argument("since", 0, None) or 0
        limit = self.int_argument("limit", 1, 5000) or 5000
        store = self.services.store
        await self.services.run(store.get_job, job_id)
        found: list[JobLogChunk] = await self.services.run(lambda: store.job_logs(job_id, since, limit))
        cursor = found[-1].cursor if found else since
        chunks = [LogChunkModel(**c.__dict__) for c in found]
        self.write_model(LogChunks(chunks=chunks, cursor=cursor))

    @route(
        "Append output to a job's log (its node)",
        body=AppendLogs,
        response=Appended,
        errors=(400, 403, 404),
        tags=_TAGS,
    )
    async def post(self, job_id: str) -> None:
        body = self.parse_body(AppendLogs)
        store = self.services.store
        await self.services.run(store.get_job, job_id)
        written = await self.services.run(lambda: store.append_job_logs(job_id, body.chunks))
        self.write_model(Appended(appended=written))
