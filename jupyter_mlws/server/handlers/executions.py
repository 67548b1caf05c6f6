"""Recorded cell executions over HTTP.

- `POST /executions` — store a batch of executions (what the execution recorder in a kernel
  sends through the REST store); all or nothing.
- `GET /executions?run_id=&notebook_path=&kernel_id=&limit=` — newest first.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ...entities import CellExecution
from ...errors import InvalidParameter
from ...validation import MAX_BATCH_EXECUTIONS
from .base import MLWSHandler, route

MAX_LIST = 10_000


class ExecutionModel(BaseModel):
    """One recorded cell execution (times in milliseconds since the Unix epoch)."""

    model_config = ConfigDict(extra="forbid")
    execution_id: int | None = Field(None, description="Assigned by the server.")
    source: str
    start_time: StrictInt
    duration_ms: StrictInt
    status: str = Field("ok", description="ok, error or interrupted.")
    run_id: str | None = Field(None, description="The run the cell belonged to, if any.")
    notebook_path: str | None = None
    cell_id: str | None = None
    execution_count: StrictInt | None = None
    kernel_id: str | None = None
    error: str | None = Field(None, description="`Type: message` of the exception, when it failed.")


class ExecutionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executions: list[ExecutionModel] = Field(description=f"At most {MAX_BATCH_EXECUTIONS}.")


class ExecutionsRecorded(BaseModel):
    recorded: int


class ExecutionList(BaseModel):
    executions: list[ExecutionModel]


class ExecutionsQuery(BaseModel):
    run_id: str | None = None
    notebook_path: str | None = None
    kernel_id: str | None = None
    limit: int = Field(100, ge=1, le=MAX_LIST)


class ExecutionsHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route("List recorded cell executions", query=ExecutionsQuery, response=ExecutionList, tags=("runs",))
    async def get(self) -> None:
        args = self.request.arguments
        unknown = sorted(set(args) - set(ExecutionsQuery.model_fields))
        if unknown:
            raise InvalidParameter(f"Unknown query parameter(s): {', '.join(unknown)}.")
        given = {name: self.get_query_argument(name) for name in args}
        limit_text = given.pop("limit", "100")
        try:
            limit = int(limit_text)
        except ValueError:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_LIST}.") from None
        if not 1 <= limit <= MAX_LIST:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_LIST}, not {limit}.")
        found = await self.services.run(self.services.store.list_executions, **given, limit=limit)
        self.write_model(
            ExecutionList(executions=[ExecutionModel.model_validate(_fields(e)) for e in found])
        )

    @route(
        "Record cell executions",
        body=ExecutionBatch,
        response=ExecutionsRecorded,
        status=201,
        errors=(400, 403, 404, 413),
        tags=("runs",),
    )
    async def post(self) -> None:
        batch = self.parse_body(ExecutionBatch)
        items = [CellExecution(**item.model_dump(exclude={"execution_id"})) for item in batch.executions]
        recorded = await self.services.run(self.services.store.record_executions, items)
        self.write_model(ExecutionsRecorded(recorded=recorded), status=201)


def _fields(execution: CellExecution) -> dict[str, object]:
    return {name: getattr(execution, name) for name in ExecutionModel.model_fields}
