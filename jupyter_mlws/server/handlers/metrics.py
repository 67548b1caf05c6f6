"""Logging and reading a run's data over HTTP.

- `PUT /runs/{run_id}/batches/{batch_id}` — log metrics, params and tags in one all-or-nothing
  write. The client picks `batch_id` (e.g. a uuid4), which makes retries safe: a batch id the
  store has already applied is acknowledged again without storing anything twice (the REST
  store relies on this). Per-request limits are MLflow's: 1,000 metrics, 100 params, 100 tags;
  larger batches get 413 and the client splits them.
- `GET /runs/{run_id}/metrics/{key}?max_points=N&since=C` — a metric's history as columns,
  downsampled on the server when `max_points` is given; `since` (the `cursor` of an earlier
  answer) returns only the points stored after it, for live charts that poll.
- `PUT /runs/{run_id}/heartbeat` — the liveness lease of a run logged from outside a kernel.

A batch renews the run's lease too (at most every `BATCH_RENEWS_LEASE_EVERY` seconds per run, or a
third of the lease when that is shorter): a
client that keeps logging is alive, whether or not it also sends heartbeats (found under load: a
REST client logging for a minute without heartbeats had its run ended "no heartbeat for 32 s").
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from ...entities import Metric, MetricSeries
from ...errors import InvalidParameter, PayloadTooLarge
from ...store.base import MetadataStore, now_ms
from ...wire import NonFinite, WireFloat, decode_float, encode_floats
from .base import MLWSHandler, route

MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_HISTORY_POINTS = 100_000
BATCH_RENEWS_LEASE_EVERY = 10.0


class MetricPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    value: StrictFloat | StrictInt | NonFinite
    step: StrictInt = 0
    timestamp: StrictInt | None = Field(None, description="Milliseconds since the Unix epoch; default now.")


class MetricColumns(BaseModel):
    """Metric points as four aligned columns: the compact form the REST store sends (parsing a
    list of numbers is about ten times cheaper than parsing a list of objects)."""

    model_config = ConfigDict(extra="forbid")
    key: list[str]
    value: list[StrictFloat | StrictInt | NonFinite]
    step: list[StrictInt]
    timestamp: list[StrictInt] = Field(description="Milliseconds since the Unix epoch.")


class LogBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metrics: list[MetricPoint] = Field(default_factory=list, description=f"At most {MAX_METRICS}.")
    columns: MetricColumns | None = Field(
        None, description=f"More points as columns; with `metrics`, at most {MAX_METRICS} in all."
    )
    params: dict[str, str] = Field(default_factory=dict, description=f"At most {MAX_PARAMS}.")
    tags: dict[str, str] = Field(default_factory=dict, description=f"At most {MAX_TAGS}.")
    taken_ms: StrictInt | None = Field(
        None,
        description="When the client took this batch (ms since the epoch); a run someone else ended "
        "refuses data taken after its end with 409. Default: the newest point's timestamp, or now.",
    )


class BatchResult(BaseModel):
    batch_id: str
    applied: bool = Field(description="False when this batch id had been applied before (a retry).")


class MetricHistory(BaseModel):
    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[WireFloat]
    total_points: int = Field(description="Points stored for this key (more than returned when downsampled).")
    cursor: int = Field(description="Pass as `since` to get only the points stored after this answer.")


class HistoryQuery(BaseModel):
    max_points: int | None = Field(None, ge=2, le=MAX_HISTORY_POINTS)
    since: int | None = Field(None, ge=0)
    min_step: int | None = Field(None, description="Only steps >= this (a zoomed chart's window).")
    max_step: int | None = Field(None, description="Only steps <= this.")


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_ms: StrictInt | None = Field(None, description="When the client was last alive; default now.")


class HeartbeatResult(BaseModel):
    status: str = Field(description="The run's status; a run that has ended stays ended.")


def _point_count(batch: LogBatch) -> int:
    columns = batch.columns
    if columns is None:
        return len(batch.metrics)
    lengths = {len(columns.key), len(columns.value), len(columns.step), len(columns.timestamp)}
    if len(lengths) != 1:
        raise InvalidParameter("The metric columns key, value, step and timestamp must have the same length.")
    return len(batch.metrics) + len(columns.key)


def _check_limits(batch: LogBatch) -> None:
    points = _point_count(batch)
    over = [
        f"{count} {what} (at most {limit})"
        for what, count, limit in (
            ("metrics", points, MAX_METRICS),
            ("params", len(batch.params), MAX_PARAMS),
            ("tags", len(batch.tags), MAX_TAGS),
        )
        if count > limit
    ]
    if over:
        raise PayloadTooLarge(f"The batch has {', '.join(over)} per request; split it into smaller batches.")


def _log(store: MetadataStore, run_id: str, batch_id: str, batch: LogBatch, renew: bool = False) -> bool:
    now = now_ms()
    metrics = [
        Metric(
            p.key,
            p.value if isinstance(p.value, int) else decode_float(p.value),
            p.step,
            now if p.timestamp is None else p.timestamp,
        )
        for p in batch.metrics
    ]
    if batch.columns is not None:
        c = batch.columns
        values = [decode_float(v) if isinstance(v, str) else v for v in c.value]
        metrics.extend(map(Metric, c.key, values, c.step, c.timestamp))
    from ...store.sql.store import SqlStore

    if isinstance(store, SqlStore):  # the lease renewed in the batch's own transaction
        return store.log_batch(
            run_id, metrics, batch.params, batch.tags, batch_id, batch.taken_ms, renew_lease=renew
        )
    applied = store.log_batch(
        run_id,
        metrics=metrics,
        params=batch.params,
        tags=batch.tags,
        batch_id=batch_id,
        taken_ms=batch.taken_ms,
    )
    if renew:
        store.heartbeat(run_id)
    return applied


class BatchHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route(
        "Log a batch of metrics, params and tags (idempotent per batch id)",
        body=LogBatch,
        response=BatchResult,
        errors=(400, 403, 404, 409, 413),
        tags=("runs",),
    )
    async def put(self, run_id: str, batch_id: str) -> None:
        if not 1 <= len(batch_id) <= 64 or not all(
            c.isascii() and (c.isalnum() or c in "-_") for c in batch_id
        ):
            raise InvalidParameter("A batch id is 1-64 ASCII letters, digits, '-' or '_'.")
        batch = self.parse_body(LogBatch)
        _check_limits(batch)
        renewed: dict[str, float] = self.settings.setdefault("mlws_batch_renewals", {})
        lease = getattr(self.settings.get("mlws_supervisor"), "lease_seconds", 0.0) or 0.0
        every = min(BATCH_RENEWS_LEASE_EVERY, lease / 3) if lease > 0 else BATCH_RENEWS_LEASE_EVERY
        now = time.monotonic()
        renew = now - renewed.get(run_id, float("-inf")) >= every
        if renew:
            if len(renewed) > 10_000:  # forget runs not logged to lately
                for old in [k for k, t in renewed.items() if now - t >= every]:
                    del renewed[old]
            renewed[run_id] = now
        applied = await self.services.run(_log, self.services.store, run_id, batch_id, batch, renew)
        self.write_model(BatchResult(batch_id=batch_id, applied=applied))


class MetricHistoryHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route(
        "A metric's history, downsampled or since a cursor",
        query=HistoryQuery,
        response=MetricHistory,
        tags=("runs",),
    )
    async def get(self, run_id: str, key: str) -> None:
        query = HistoryQuery(
            max_points=self.int_argument("max_points", 2, MAX_HISTORY_POINTS),
            since=self.int_argument("since", 0, None, "a cursor from an earlier answer (an integer >= 0)"),
            min_step=self.int_argument("min_step", -(2**63), 2**63 - 1),
            max_step=self.int_argument("max_step", -(2**63), 2**63 - 1),
        )
        series: MetricSeries = await self.services.run(
            self.services.store.get_metric_history,
            run_id,
            key,
            query.max_points,
            since=query.since,
            min_step=query.min_step,
            max_step=query.max_step,
        )
        self.write_model(
            MetricHistory(
                key=series.key,
                steps=[int(s) for s in series.steps],
                timestamps=[int(t) for t in series.timestamps],
                values=encode_floats(series.values),
                total_points=series.total_points,
                cursor=series.cursor,
            )
        )


class HeartbeatHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route(
        "Renew a run's liveness lease (409 once the run was ended for its client: killed, canceled)",
        body=Heartbeat,
        response=HeartbeatResult,
        errors=(400, 403, 404, 409),
        tags=("runs",),
    )
    async def put(self, run_id: str) -> None:
        beat = self.parse_body(Heartbeat) if self.body else Heartbeat()
        status = await self.services.run(self.services.store.heartbeat, run_id, beat.time_ms)
        self.write_model(HeartbeatResult(status=status.value))
