"""`/mlws/api/v1/runs[/{run_id}]`: search, create, get, patch, delete.

Search takes the same filter grammar, ordering and paging as the Python API
(`ws.runs(...)`): `GET /runs?experiment_id=1&filter=metrics.acc > 0.9&order_by=metrics.acc desc
&limit=100&page_token=...`. Metric values are JSON numbers, or "NaN" / "Infinity" / "-Infinity"
(see `jupyter_mlws.wire`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ...entities import RunInfo, RunRecord, RunStatus, RunTable
from ...errors import InvalidParameter
from ...store.base import MetadataStore, now_ms
from ...wire import WireFloat, encode_float
from ..services import WorkspaceServices
from .base import MLWSHandler, route

MAX_PAGE = 10_000


class RunModel(BaseModel):
    """A run: its info, params, tags and the latest value of each metric."""

    run_id: str
    experiment_id: int
    experiment_name: str | None = Field(None, description="Filled in search results.")
    name: str
    status: str = Field(description="queued, running, completed, failed, killed or canceled.")
    status_reason: str | None = None
    start_time: int | None = Field(None, description="Milliseconds since the Unix epoch (UTC).")
    end_time: int | None = None
    heartbeat_time: int | None = None
    source_kind: str
    compute_target: str
    notebook_path: str | None = None
    cell_id: str | None = None
    parent_run_id: str | None = None
    user: str | None = None
    host: str | None = Field(None, description="Host of the process that owns the run.")
    pid: int | None = Field(None, description="Process id of the owner on `host`.")
    kernel_id: str | None = Field(None, description="Jupyter kernel that owns the run, if any.")
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, WireFloat] = Field(default_factory=dict, description="Latest value per key.")

    @classmethod
    def of(
        cls,
        info: RunInfo,
        params: dict[str, str],
        tags: dict[str, str],
        metrics: dict[str, float],
        experiment_name: str | None = None,
    ) -> RunModel:
        return cls(
            run_id=info.run_id,
            experiment_id=info.experiment_id,
            experiment_name=experiment_name,
            name=info.name,
            status=info.status.value,
            status_reason=info.status_reason,
            start_time=info.start_time,
            end_time=info.end_time,
            heartbeat_time=info.heartbeat_time,
            source_kind=info.source_kind,
            compute_target=info.compute_target,
            notebook_path=info.notebook_path,
            cell_id=info.cell_id,
            parent_run_id=info.parent_run_id,
            user=info.user,
            host=info.host,
            pid=info.pid,
            kernel_id=info.kernel_id,
            params=params,
            tags=tags,
            metrics={k: encode_float(v) for k, v in metrics.items()},
        )

    @classmethod
    def of_record(cls, record: RunRecord) -> RunModel:
        return cls.of(record.info, record.data.params, record.data.tags, record.data.metrics)


class RunPage(BaseModel):
    runs: list[RunModel]
    next_page_token: str | None = Field(None, description="Pass back as page_token for the next page.")


class RunSearchQuery(BaseModel):
    """Query parameters of `GET /runs`."""

    experiment_id: list[int] | None = Field(None, description="Repeat to search several experiments.")
    filter: str | None = Field(None, description="e.g. metrics.acc > 0.9 and params.lr = '0.01'")
    order_by: list[str] | None = Field(None, description="e.g. metrics.acc desc; repeat for ties.")
    limit: int = Field(1000, ge=1, le=MAX_PAGE)
    page_token: str | None = None


class CreateRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiment_id: int | None = Field(None, description="Give this or experiment_name.")
    experiment_name: str | None = Field(None, description="Created if it does not exist.")
    run_id: str | None = Field(
        None, description="32 hex characters; chosen by the client to make retries safe."
    )
    name: str | None = None
    status: str = Field("running", description="running (default) or queued.")
    start_time: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_run_id: str | None = None
    source_kind: str = "api"
    compute_target: str = "local"
    notebook_path: str | None = None
    cell_id: str | None = None
    user: str | None = None
    host: str | None = None
    pid: int | None = None
    kernel_id: str | None = None


class UpdateRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    status_reason: str | None = None
    end_time: int | None = Field(
        None, description="Set by the server when a terminal status comes without it."
    )
    name: str | None = None
    tags: dict[str, str] | None = Field(None, description="Tags to set (existing keys are overwritten).")


def rows_of(table: RunTable) -> list[RunModel]:
    """A column-oriented search page as one model per run."""
    rows = []
    for i, info in enumerate(table.runs):
        params = {k: col[i] for k, col in table.params.items() if col[i] is not None}
        tags = {k: col[i] for k, col in table.tags.items() if col[i] is not None}
        metrics = {k: col[i] for k, col in table.metrics.items() if col[i] is not None}
        name = table.experiment_names[i] if i < len(table.experiment_names) else None
        rows.append(RunModel.of(info, params, tags, metrics, name))  # type: ignore[arg-type]
    return rows


class RunsHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route("Search runs", query=RunSearchQuery, response=RunPage, tags=("runs",))
    async def get(self) -> None:
        query = self._search_query()
        store = self.services.store
        table = await self.services.run(
            store.search_runs,
            query.experiment_id,
            query.filter,
            query.order_by,
            query.limit,
            query.page_token,
        )
        self.write_model(RunPage(runs=rows_of(table), next_page_token=table.next_page_token))

    def _search_query(self) -> RunSearchQuery:
        args = self.request.arguments
        unknown = sorted(set(args) - set(RunSearchQuery.model_fields))
        if unknown:
            raise InvalidParameter(f"Unknown query parameter(s): {', '.join(unknown)}.")

        def one(name: str) -> str | None:
            values = self.get_query_arguments(name)
            if len(values) > 1:
                raise InvalidParameter(f"Query parameter {name!r} is given more than once.")
            return values[0] if values else None

        try:
            ids = [int(v) for v in self.get_query_arguments("experiment_id")] or None
        except ValueError:
            raise InvalidParameter("experiment_id must be an integer.") from None
        limit_text = one("limit")
        try:
            limit = int(limit_text) if limit_text is not None else 1000
        except ValueError:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_PAGE}.") from None
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_PAGE}, not {limit}.")
        return RunSearchQuery(
            experiment_id=ids,
            filter=one("filter"),
            order_by=self.get_query_arguments("order_by") or None,
            limit=limit,
            page_token=one("page_token"),
        )

    @route(
        "Create a run",
        body=CreateRun,
        response=RunModel,
        status=201,
        errors=(400, 403, 404, 409, 413),
        tags=("runs",),
    )
    async def post(self) -> None:
        request = self.parse_body(CreateRun)
        record = await self.services.run(_create_run, self.services.store, request)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{record.info.run_id}")
        self.write_model(RunModel.of_record(record), status=201)


def _create_run(store: MetadataStore, request: CreateRun) -> RunRecord:
    if (request.experiment_id is None) == (request.experiment_name is None):
        raise InvalidParameter("Give exactly one of experiment_id and experiment_name.")
    if request.experiment_id is not None:
        experiment_id = store.get_experiment(request.experiment_id).experiment_id
    else:
        experiment_id = store.get_or_create_experiment(request.experiment_name or "").experiment_id
    return store.create_run(
        experiment_id,
        name=request.name,
        run_id=request.run_id,
        status=RunStatus.parse(request.status),
        start_time=request.start_time,
        parent_run_id=request.parent_run_id,
        source_kind=request.source_kind,
        compute_target=request.compute_target,
        notebook_path=request.notebook_path,
        cell_id=request.cell_id,
        user=request.user,
        tags=request.tags,
        host=request.host,
        pid=request.pid,
        kernel_id=request.kernel_id,
    )


def _update_run(store: MetadataStore, run_id: str, request: UpdateRun) -> RunRecord:
    if request.tags:
        store.set_tags(run_id, request.tags)
    if request.status is not None or request.name is not None or request.status_reason is not None:
        status = RunStatus.parse(request.status) if request.status is not None else None
        end_time = request.end_time
        if status is not None and status.is_terminal and end_time is None:
            end_time = now_ms()
        store.update_run(
            run_id, status=status, end_time=end_time, name=request.name, status_reason=request.status_reason
        )
    return store.get_run(run_id)


class RunHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route("Get a run", response=RunModel, tags=("runs",))
    async def get(self, run_id: str) -> None:
        record = await self.services.run(self.services.store.get_run, run_id)
        self.write_model(RunModel.of_record(record))

    @route(
        "Change a run's status, name or tags",
        body=UpdateRun,
        response=RunModel,
        errors=(400, 403, 404, 409, 413),
        tags=("runs",),
    )
    async def patch(self, run_id: str) -> None:
        request = self.parse_body(UpdateRun)
        record = await self.services.run(_update_run, self.services.store, run_id, request)
        self.write_model(RunModel.of_record(record))

    @route("Delete a run, its data and its artifacts", status=204, tags=("runs",))
    async def delete(self, run_id: str) -> None:
        await self.services.run(self.services.store.delete_run, run_id)
        await self.services.run(_delete_artifacts, self.services, run_id)
        self.set_status(204)
        self.finish()


def _delete_artifacts(services: WorkspaceServices, run_id: str) -> None:
    """Remove the run's artifact bytes after its records are gone (a crash in between leaves
    unreferenced bytes, never a record pointing at nothing)."""
    delete_all = getattr(services.artifacts, "delete_run", None)
    if delete_all is not None:
        delete_all(run_id)
