"""The job part of the REST store: `/mlws/api/v1/jobs/...` (a base of `RestStore`).

Used by clients of a workspace URL (submit, list, cancel, follow the output) and by job nodes that
reach the workspace only through its server (claim and end an attempt, ship output). The server
dispatches every job of its workspace, so a REST client never runs a dispatcher: its heartbeat
calls are refused and it sees the server as the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Job, JobLogChunk
from ..errors import Forbidden
from ..http import HttpClient, path_segment

API = "/mlws/api/v1/jobs"
_NEW_FIELDS = (
    "job_id",
    "name",
    "kind",
    "target",
    "experiment_id",
    "run_id",
    "priority",
    "max_retries",
    "spec",
)


class RestJobMixin:
    """`create/get/list/update_job`, the job logs, and the dispatcher calls over HTTP."""

    http: HttpClient

    def create_job(self, job: Job) -> Job:
        body = {k: getattr(job, k) for k in _NEW_FIELDS}
        return Job.from_dict(self.http.json("POST", API, json_body=body))

    def get_job(self, job_id: str) -> Job:
        return Job.from_dict(self.http.json("GET", f"{API}/{path_segment(job_id)}"))

    def list_jobs(
        self, states: Sequence[str] | None = None, target: str | None = None, limit: int = 500
    ) -> list[Job]:
        query: dict[str, Any] = {"limit": limit}
        if states:
            query["state"] = ",".join(states)
        if target:
            query["target"] = target
        return [Job.from_dict(j) for j in self.http.json("GET", API, query=query)["jobs"]]

    def update_job(self, job_id: str, expect: Mapping[str, Any] | None = None, **changes: Any) -> Job:
        body = {"expect": dict(expect) if expect else None, "changes": changes}
        return Job.from_dict(self.http.json("PATCH", f"{API}/{path_segment(job_id)}", json_body=body))

    def append_job_logs(self, job_id: str, chunks: Sequence[Sequence[Any]]) -> int:
        if not chunks:
            return 0
        body = {"chunks": [list(c) for c in chunks]}
        answer = self.http.json("POST", f"{API}/{path_segment(job_id)}/logs", json_body=body)
        return int(answer["appended"])

    def job_logs(self, job_id: str, since: int = 0, limit: int = 5000) -> list[JobLogChunk]:
        answer = self.http.json(
            "GET", f"{API}/{path_segment(job_id)}/logs", query={"since": since, "limit": limit}
        )
        return [JobLogChunk(**c) for c in answer["chunks"]]

    def beat_job_dispatcher(self, dispatcher_id: str, kind: str) -> None:
        raise Forbidden("Jobs of a workspace URL are dispatched by its server, not by a client.")

    def job_dispatchers(self, max_age_ms: int | None = None) -> list[tuple[str, str, int]]:
        return [("server", "server", 0)]

    def drop_job_dispatcher(self, dispatcher_id: str) -> None:
        raise Forbidden("Jobs of a workspace URL are dispatched by its server, not by a client.")
