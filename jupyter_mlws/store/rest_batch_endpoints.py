"""The batch-endpoint part of the REST store: `/mlws/api/v1/batch-endpoints/...` (a base of `RestStore`).

Reads, changes and deletes go through the server's routes. Refused here, on purpose, as for
real-time endpoints (rest_registry.py): storing a raw endpoint with key hashes
(`create_batch_endpoint`), setting key hashes, or recording a last job — the server deploys batch
endpoints (`POST /batch-endpoints`, whose answer carries the keys once), rotates keys, and records
the jobs its invokes start. Batch endpoints read over HTTP carry no key hashes and no entry
script source (its file name only).

Beyond the store interface, what only the server does, asked of it here (a workspace URL's
`ws.endpoints.deploy_batch`, `regenerate_batch_key`, a handle's `invoke` and `jobs`):
`deploy_batch_endpoint`, `regenerate_batch_endpoint_key`, `invoke_batch_endpoint`,
`batch_endpoint_jobs`.
"""

from __future__ import annotations

from typing import Any

from ..entities import Job
from ..errors import Forbidden
from ..http import HttpClient, path_segment
from ..model_entities import BatchEndpoint

API = "/mlws/api/v1/batch-endpoints"


def _url(name: str) -> str:
    return f"{API}/{path_segment(name)}"


def batch_endpoint_from_body(body: dict[str, Any]) -> BatchEndpoint:
    """A `BatchEndpoint` from a REST answer (no key hashes, no script source)."""
    return BatchEndpoint.from_dict({k: v for k, v in body.items() if k not in ("key_hashes", "entry_source")})


def _changes_body(changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH's flat body from `BatchEndpoint` field names."""
    refused = {"key_hashes", "last_job_id"} & set(changes)
    if refused:
        raise Forbidden(
            f"{', '.join(sorted(refused))} of a batch endpoint are the server's to set: keys are rotated "
            "with POST /batch-endpoints/{name}/keys/{primary|secondary}, and an invoke records its job"
        )
    body = {k: v for k, v in changes.items() if k not in ("defaults", "entry_script", "entry_source")}
    body.update(changes.get("defaults") or {})
    if "entry_script" in changes or "entry_source" in changes:
        name, source = changes.get("entry_script"), changes.get("entry_source")
        body["entry_script"] = None if name is None else {"name": name, "source": source}
    return body


class RestBatchEndpointMixin:
    """`get/list/update/delete_batch_endpoint` over HTTP, and the server's own operations."""

    http: HttpClient

    def create_batch_endpoint(self, endpoint: BatchEndpoint) -> BatchEndpoint:
        raise Forbidden(
            "create_batch_endpoint is not available on a workspace URL: the server deploys batch "
            "endpoints (ws.endpoints.deploy_batch, POST /batch-endpoints); key material never travels"
        )

    def get_batch_endpoint(self, name: str) -> BatchEndpoint:
        return batch_endpoint_from_body(self.http.json("GET", _url(name)))

    def list_batch_endpoints(self) -> list[BatchEndpoint]:
        return [batch_endpoint_from_body(e) for e in self.http.json("GET", API)["batch_endpoints"]]

    def update_batch_endpoint(self, name: str, **changes: Any) -> BatchEndpoint:
        return batch_endpoint_from_body(self.http.json("PATCH", _url(name), json_body=_changes_body(changes)))

    def delete_batch_endpoint(self, name: str) -> None:
        self.http.request("DELETE", _url(name))

    # ----- what only the server does ---------------------------------------------------------
    def deploy_batch_endpoint(self, name: str, **options: Any) -> tuple[BatchEndpoint, dict[str, str] | None]:
        """`POST /batch-endpoints` (create or update); the keys when it created the endpoint."""
        body = {"name": name, **{k: v for k, v in options.items() if v is not None}}
        answer = self.http.json("POST", API, json_body=body)
        keys = answer.pop("keys", None)
        return batch_endpoint_from_body(answer), keys

    def regenerate_batch_endpoint_key(self, name: str, slot: str) -> str:
        return str(self.http.json("POST", f"{_url(name)}/keys/{path_segment(slot)}")["key"])

    def invoke_batch_endpoint(self, name: str, inputs: str, **overrides: Any) -> dict[str, Any]:
        """`POST /batch-endpoints/{name}/jobs` with the Jupyter token: the started job's summary."""
        body = {"inputs": inputs, **overrides}
        return dict(self.http.json("POST", f"{_url(name)}/jobs", json_body=body))

    def batch_endpoint_jobs(self, name: str, limit: int = 100) -> list[Job]:
        answer = self.http.json("GET", f"{_url(name)}/jobs", query={"limit": limit})
        return [Job.from_dict(j) for j in answer["jobs"]]
