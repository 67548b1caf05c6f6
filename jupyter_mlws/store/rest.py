"""The metadata store over HTTP: a client of the server's `/mlws/api/v1` API.

Selected by an `http(s)://` workspace URL (`MLWS_WORKSPACE=http://host:8888/`,
token in `$MLWS_TOKEN`). Code that cannot open the workspace's SQLite file —
Dask workers, other hosts — logs through this store and gets the same
behaviour as the SQL store: the same contract suite runs against both
(`tests/store/`).

Writes are made safe to retry (the HTTP client retries idempotent requests):
runs are created with a client-chosen id, and every batch carries a
client-chosen batch id that the server applies at most once. A `log_batch`
larger than the server's per-request limits (1,000 metrics, 100 params,
100 tags) is split into several batches; each one is all-or-nothing, the
whole is not (MLflow's REST client behaves the same way).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import (
    ArtifactRecord,
    CellExecution,
    Experiment,
    Metric,
    MetricSeries,
    RunInfo,
    RunRecord,
    RunStatus,
    RunTable,
)
from ..errors import AlreadyExists, NotFound
from ..http import HttpClient, path_segment
from ..validation import (
    check_batch_size,
    validate_artifact_location,
    validate_executions,
    validate_experiment_id,
    validate_key,
    validate_metric_value,
    validate_step,
    validate_timestamp,
)
from ..wire import decode_float, encode_float
from .base import MetadataStore, now_ms
from .rest_batch_endpoints import RestBatchEndpointMixin
from .rest_bodies import PreparedBatch, execution_body, execution_from_body
from .rest_bodies import experiment_from_body as _experiment
from .rest_bodies import record_from_body as _record
from .rest_bodies import run_info_from_body as _info
from .rest_compute import RestClusterMixin, RestComputeMixin
from .rest_data import RestDataMixin
from .rest_jobs import RestJobMixin
from .rest_mlflow import RestMlflowMixin
from .rest_registry import RestEndpointCalls, RestRegistryMixin

TOKEN_ENV = "MLWS_TOKEN"
API = "/mlws/api/v1"
MAX_METRICS, MAX_PARAMS, MAX_TAGS = 1000, 100, 100


class RestStore(
    RestComputeMixin,
    RestClusterMixin,
    RestJobMixin,
    RestDataMixin,
    RestBatchEndpointMixin,
    RestRegistryMixin,
    RestEndpointCalls,
    RestMlflowMixin,
    MetadataStore,
):
    """`MetadataStore` backed by a jupyter_mlws server."""

    def __repr__(self) -> str:
        return f"<RestStore {self.url}>"

    def __init__(self, url: str, token: str | None = None, **options: Any) -> None:
        self.url = url.rstrip("/")
        self.http = HttpClient(self.url, token if token is not None else os.environ.get(TOKEN_ENV), **options)
        # (run, path) -> sha256 of uploads this process made (RestArtifactStore tells us).
        self._uploaded: dict[tuple[str, str], str] = {}

    def uploaded(self, run_id: str, path: str, sha256: str) -> None:
        """Note an upload the server has recorded, so `record_artifact` need not ask again."""
        if len(self._uploaded) > 10_000:
            self._uploaded.clear()
        self._uploaded[(run_id, path)] = sha256

    # ----- experiments -------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        body = {"name": name, "artifact_location": validate_artifact_location(artifact_location)}
        return _experiment(self.http.json("POST", f"{API}/experiments", json_body=body))

    def get_experiment(self, experiment_id: int) -> Experiment:
        return _experiment(
            self.http.json("GET", f"{API}/experiments/{validate_experiment_id(experiment_id)}")
        )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self.http.json("GET", f"{API}/experiments", query={"name": name})["experiments"]
        return _experiment(found[0]) if found else None

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        self.only_active(view, "listing experiments")
        return [_experiment(e) for e in self.http.json("GET", f"{API}/experiments")["experiments"]]

    def rename_experiment(self, experiment_id: int, name: str) -> Experiment:
        body = {"name": name}
        return _experiment(
            self.http.json(
                "PATCH", f"{API}/experiments/{validate_experiment_id(experiment_id)}", json_body=body
            )
        )

    def delete_experiment(self, experiment_id: int) -> None:
        self.http.request("DELETE", f"{API}/experiments/{validate_experiment_id(experiment_id)}")

    # ----- runs ----------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        run_id: str | None = None,
        status: RunStatus | str = RunStatus.RUNNING,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        source_kind: str = "api",
        compute_target: str = "local",
        notebook_path: str | None = None,
        cell_id: str | None = None,
        user: str | None = None,
        tags: Mapping[str, Any] | None = None,
        host: str | None = None,
        pid: int | None = None,
        kernel_id: str | None = None,
    ) -> RunRecord:
        chosen = run_id or uuid.uuid4().hex
        body = {
            "experiment_id": validate_experiment_id(experiment_id),
            "run_id": chosen,
            "name": name,
            "status": RunStatus.parse(status).value,
            "start_time": start_time,
            "parent_run_id": parent_run_id,
            "source_kind": source_kind,
            "compute_target": compute_target,
            "notebook_path": notebook_path,
            "cell_id": cell_id,
            "user": user,
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "host": host,
            "pid": pid,
            "kernel_id": kernel_id,
        }
        try:
            return _record(self.http.json("POST", f"{API}/runs", json_body=body))
        except AlreadyExists:
            if run_id is not None:
                raise
            # Our own earlier attempt got through before the connection dropped.
            return self.get_run(chosen)

    def get_run(self, run_id: str) -> RunRecord:
        return _record(self.http.json("GET", f"{API}/runs/{path_segment(run_id)}"))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        status_reason: str | None = None,
    ) -> RunInfo:
        body = {
            "status": RunStatus.parse(status).value if status is not None else None,
            "end_time": end_time,
            "name": name,
            "status_reason": status_reason,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return _record(self.http.json("PATCH", f"{API}/runs/{path_segment(run_id)}", json_body=body)).info

    def delete_run(self, run_id: str) -> None:
        self.http.request("DELETE", f"{API}/runs/{path_segment(run_id)}")

    def heartbeat(self, run_id: str, time_ms: int | None = None) -> RunStatus:
        body = {"time_ms": int(time_ms)} if time_ms is not None else {}
        answer = self.http.json("PUT", f"{API}/runs/{path_segment(run_id)}/heartbeat", json_body=body)
        return RunStatus.parse(answer["status"])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        taken_ms: int | None = None,
    ) -> bool:
        prepared = self.prepare_batch(metrics, params, tags)
        return self.send_batch(run_id, prepared, batch_id or uuid.uuid4().hex, taken_ms)

    def prepare_batch(
        self,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> PreparedBatch:
        """Validate with the same rules as the SQL store (both refuse the same input with the same
        message, in the caller's thread) and encode for the wire; nothing is sent yet."""
        check_batch_size(len(metrics), len(params or ()), len(tags or ()))
        keys, values, steps, stamps = [], [], [], []
        for m in metrics:
            key = validate_key("Metric key", m[0])
            keys.append(key)
            values.append(encode_float(validate_metric_value(key, m[1])))
            steps.append(validate_step(key, m[2]))
            stamps.append(validate_timestamp(key, m[3]))
        param_items = [(k, v if isinstance(v, str) else str(v)) for k, v in (params or {}).items()]
        tag_items = [(k, v if isinstance(v, str) else str(v)) for k, v in (tags or {}).items()]
        return PreparedBatch(keys, values, steps, stamps, dict(param_items), dict(tag_items))

    def send_batch(
        self,
        run_id: str,
        batch: PreparedBatch,
        batch_id: str,
        taken_ms: int | None = None,
        retry_seconds: float | None = None,
    ) -> bool:
        """PUT a prepared batch, split into requests within the server's per-request limits; each
        request's id is `batch_id` (or `batch_id-i` when split), so a resend applies nothing twice."""
        param_items, tag_items = list(batch.params.items()), list(batch.tags.items())
        chunks = max(
            -(-len(batch.keys) // MAX_METRICS),
            -(-len(param_items) // MAX_PARAMS),
            -(-len(tag_items) // MAX_TAGS),
            1,
        )

        def send(i: int) -> bool:
            part = slice(i * MAX_METRICS, (i + 1) * MAX_METRICS)
            body: dict[str, Any] = {
                "columns": {
                    "key": batch.keys[part],
                    "value": batch.values[part],
                    "step": batch.steps[part],
                    "timestamp": batch.timestamps[part],
                },
                "params": dict(param_items[i * MAX_PARAMS : (i + 1) * MAX_PARAMS]),
                "tags": dict(tag_items[i * MAX_TAGS : (i + 1) * MAX_TAGS]),
            }
            if taken_ms is not None:
                body["taken_ms"] = int(taken_ms)
            chunk_id = f"{batch_id}-{i}" if chunks > 1 else batch_id
            path = f"{API}/runs/{path_segment(run_id)}/batches/{path_segment(chunk_id)}"
            return bool(self.http.json("PUT", path, json_body=body, retry_seconds=retry_seconds)["applied"])

        # One request after another on the kept-alive connection: measured, keeping two or
        # three in flight was slower (the server's parse and commit contend for one GIL and
        # one SQLite writer).
        return any([send(i) for i in range(chunks)])

    # ----- what a spool replays (store/spool.py) ------------------------------------------------
    #: How long one replayed operation is retried before the delivery stops for now.
    live_retry_seconds = 2.0

    def deliver_batch(
        self,
        run_id: str,
        points: list[tuple[str, Any, int, int]],
        params: dict[str, str],
        tags: dict[str, str],
        batch_id: str,
        taken_ms: int | None,
    ) -> bool:
        """Send a spooled batch (already validated and encoded) under its own id."""
        columns = [list(c) for c in zip(*points, strict=True)] if points else [[], [], [], []]
        prepared = PreparedBatch(columns[0], columns[1], columns[2], columns[3], params, tags)
        return self.send_batch(run_id, prepared, batch_id, taken_ms, self.live_retry_seconds)

    def deliver_end(self, run_id: str, status: str, end_time: int | None, reason: str | None) -> RunInfo:
        """Send a spooled run ending (its own end time: an earlier ending beats a later `killed`)."""
        body = {"status": status, "end_time": end_time, "status_reason": reason}
        body = {k: v for k, v in body.items() if v is not None}
        url = f"{API}/runs/{path_segment(run_id)}"
        return _record(
            self.http.json("PATCH", url, json_body=body, retry_seconds=self.live_retry_seconds)
        ).info

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        since: int | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        answer = self.http.json(
            "GET",
            f"{API}/runs/{path_segment(run_id)}/metrics/{path_segment(key)}",
            query={"max_points": max_points, "since": since, "min_step": min_step, "max_step": max_step},
        )
        return MetricSeries(
            key=answer["key"],
            steps=answer["steps"],
            timestamps=answer["timestamps"],
            values=[decode_float(v) for v in answer["values"]],
            total_points=answer["total_points"],
            cursor=answer["cursor"],
        )

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunTable:
        self.only_active(view, "searching runs")
        query: list[tuple[str, Any]] = [
            ("experiment_id", validate_experiment_id(e)) for e in (experiment_ids or [])
        ]
        query += [("filter", filter), ("limit", limit), ("page_token", page_token)]
        query += [("order_by", o) for o in (order_by or [])]
        answer = self.http.json("GET", f"{API}/runs", query=query)
        rows = answer["runs"]
        n = len(rows)
        params: dict[str, list[str | None]] = {}
        tags: dict[str, list[str | None]] = {}
        metrics: dict[str, list[float | None]] = {}
        for i, row in enumerate(rows):
            for column, values, decode in (
                (params, row["params"], str),
                (tags, row["tags"], str),
                (metrics, row["metrics"], decode_float),
            ):
                for k, v in values.items():
                    column.setdefault(k, [None] * n)[i] = decode(v)  # type: ignore[index]
        return RunTable(
            runs=[_info(r) for r in rows],
            experiment_names=[r.get("experiment_name") or "" for r in rows],
            params=params,
            metrics=metrics,
            tags=tags,
            next_page_token=answer.get("next_page_token"),
        )

    # ----- artifact records ------------------------------------------------------
    def record_artifact(self, run_id: str, artifact: ArtifactRecord) -> None:
        # The server records an artifact when its upload completes; check that it did.
        if self._uploaded.pop((run_id, artifact.path), None) == artifact.sha256:
            return
        for found in self.list_artifacts(run_id, artifact.path):
            if found.path == artifact.path:
                return
        raise NotFound(f"Artifact {artifact.path!r} of run {run_id} was not uploaded to the server.")

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        answer = self.http.json(
            "GET", f"{API}/runs/{path_segment(run_id)}/artifacts", query={"prefix": prefix or None}
        )
        return [ArtifactRecord(a["path"], a["size"], a["sha256"]) for a in answer["artifacts"]]

    def delete_artifact_record(self, run_id: str, path: str) -> None:
        self.http.request("DELETE", f"{API}/runs/{path_segment(run_id)}/artifacts/{path_segment(path)}")

    # ----- cell executions -------------------------------------------------------
    def record_executions(self, executions: Sequence[CellExecution]) -> int:
        items = validate_executions(executions)
        if not items:
            return 0
        body = {"executions": [execution_body(e) for e in items]}
        return int(self.http.json("POST", f"{API}/executions", json_body=body)["recorded"])

    def list_executions(
        self,
        run_id: str | None = None,
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        limit: int = 100,
    ) -> list[CellExecution]:
        query = {"run_id": run_id, "notebook_path": notebook_path, "kernel_id": kernel_id, "limit": limit}
        answer = self.http.json(
            "GET", f"{API}/executions", query={k: v for k, v in query.items() if v is not None}
        )
        return [execution_from_body(e) for e in answer["executions"]]

    def describe(self) -> dict[str, Any]:
        info = self.http.json("GET", f"{API}/info")
        return {
            "kind": "rest",
            "url": self.url,
            "server_store_kind": info["store_kind"],
            "server_version": info["version"],
        }

    def close(self) -> None:
        self.http.close()


__all__ = ["PreparedBatch", "RestStore", "execution_body", "execution_from_body", "now_ms"]
