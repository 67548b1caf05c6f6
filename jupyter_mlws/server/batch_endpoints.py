"""The server side of batch endpoints: what the `/batch-endpoints` routes call (issue 16).

Who calls what: `handlers/batch_endpoints.py` calls a `BatchEndpointService` (one per server, built
on first use and kept in the web app's settings) through `services.run`, so every method here is
blocking and runs off the event loop. It re-implements nothing: deploy, update, invoke and the job
list are `client/batch_endpoints.py`'s functions, on a `BatchWorkspace` — the `ServerWorkspace`
(server/registry.py) with what `ws.jobs.batch_score` needs of a Workspace besides (`models`,
`data`, `jobs`, experiment ids) — so an invoke over REST queues exactly what `ep.invoke(...)` in
Python queues.

Decisions:
- A job queued here is handed to this server's dispatcher at once (`ServerJobs._dispatch` wakes
  it, as `POST /jobs` does); the server never starts a dispatcher of a script's kind.
- Over REST an invoke reads a data asset only (`"data:name[:v]"`): a path would be one on the
  server's disk, which is not the caller's to name (400 saying so).
- `key_matches` compares a bearer key with the endpoint's hashes in constant time
  (`serving/keys.verify`); an unknown endpoint is compared against no hashes and answers as a
  wrong key does, so a key holder cannot tell endpoints that exist from those that do not.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..validation import validate_endpoint_name
from .registry import ServerWorkspace

if TYPE_CHECKING:
    from ..client.batch import BatchJob
    from ..entities import Job
    from ..model_entities import BatchEndpoint
    from .services import WorkspaceServices

_SETTINGS_KEY = "mlws_batch_endpoint_service"


class BatchWorkspace(ServerWorkspace):
    """The server's stores, with `models`, `data` and `jobs` as a Workspace has them."""

    def __init__(self, services: WorkspaceServices, settings: dict[str, Any]) -> None:
        super().__init__(services)
        self._settings = settings

    @functools.cached_property
    def models(self) -> Any:
        from ..client.models import Models

        return Models(self)  # type: ignore[arg-type]

    @functools.cached_property
    def data(self) -> Any:
        from ..client.data import DataAssets

        return DataAssets(self)  # type: ignore[arg-type]

    @functools.cached_property
    def jobs(self) -> Any:
        from ..client.jobs import Jobs

        settings = self._settings

        class ServerJobs(Jobs):
            def _dispatch(self, job_id: str) -> None:
                service = settings.get("mlws_jobs")
                if service is not None:
                    service.wake()

        return ServerJobs(self)  # type: ignore[arg-type]

    def _experiment_id(self, name: str) -> int:
        return self.store.get_or_create_experiment(name).experiment_id


class BatchEndpointService:
    """Batch-endpoint operations of one server (blocking: call through services.run)."""

    def __init__(self, services: WorkspaceServices, settings: dict[str, Any]) -> None:
        self.services = services
        self.workspace = BatchWorkspace(services, settings)

    @classmethod
    def of(cls, services: WorkspaceServices, settings: dict[str, Any]) -> BatchEndpointService:
        """The server's batch-endpoint service (built on first use)."""
        found: BatchEndpointService | None = settings.get(_SETTINGS_KEY)
        if found is None or found.services is not services:
            found = settings[_SETTINGS_KEY] = cls(services, settings)
        return found

    @property
    def store(self) -> Any:
        return self.services.store

    def with_last_job(self, endpoint: BatchEndpoint) -> tuple[BatchEndpoint, Job | None]:
        """The endpoint and the job its last invoke started (None: none, or deleted)."""
        if not endpoint.last_job_id:
            return endpoint, None
        try:
            return endpoint, self.store.get_job(endpoint.last_job_id)
        except NotFound:
            return endpoint, None

    def list(self) -> list[tuple[BatchEndpoint, Job | None]]:
        return [self.with_last_job(e) for e in self.store.list_batch_endpoints()]

    def get(self, name: str) -> tuple[BatchEndpoint, Job | None]:
        return self.with_last_job(self.store.get_batch_endpoint(validate_endpoint_name(name)))

    def deploy(self, name: str, **fields: Any) -> tuple[BatchEndpoint, dict[str, str] | None]:
        """Create (keys returned) or change (no keys) through `client/batch_endpoints.deploy`."""
        from ..client.batch_endpoints import deploy

        return deploy(self.workspace, name, **_options(fields))

    def update(self, name: str, **fields: Any) -> BatchEndpoint:
        from ..client.batch_endpoints import update

        return update(self.workspace, name, **_options(fields))

    def delete(self, name: str) -> None:
        self.store.delete_batch_endpoint(validate_endpoint_name(name))

    def regenerate_key(self, name: str, slot: str) -> str:
        from ..client.batch_endpoints import regenerate_key

        return regenerate_key(self.workspace, name, slot)

    def jobs(self, name: str, limit: int) -> list[Job]:
        from ..client.batch_endpoints import jobs_of

        return jobs_of(self.store, self.store.get_batch_endpoint(validate_endpoint_name(name)), limit)

    def invoke(self, name: str, inputs: str, overrides: dict[str, Any]) -> BatchJob:
        """A batch job of endpoint `name` over the data asset `inputs` ("data:name[:v]")."""
        from ..client.batch_endpoints import invoke

        if not isinstance(inputs, str) or not inputs.startswith("data:"):
            raise InvalidParameter(
                "Over REST a batch endpoint scores a data asset: inputs is 'data:name' or 'data:name:3', "
                f"not {str(inputs)[:80]!r}. Register local files first (ws.data.register, POST /data); "
                "paths on the server's disk are not taken."
            )
        endpoint = self.store.get_batch_endpoint(validate_endpoint_name(name))
        return invoke(self.workspace, endpoint, inputs, overrides)

    def key_matches(self, name: str, key: str) -> bool:
        """Whether `key` is a key of batch endpoint `name` (see the module docstring)."""
        from ..serving.keys import verify

        try:
            hashes = self.store.get_batch_endpoint(validate_endpoint_name(name)).key_hashes
        except (NotFound, InvalidParameter):
            hashes = {}
        return verify(key, hashes)


def _options(fields: dict[str, Any]) -> dict[str, Any]:
    """REST's flat body (settings beside the rest) as `deploy`/`update` take it."""
    from ..client.batch_endpoints import UNSET
    from ..model_entities import BATCH_SETTINGS

    settings = {k: fields.pop(k) for k in list(fields) if k in BATCH_SETTINGS}
    options: dict[str, Any] = {"settings": settings}
    if "entry_script" in fields:
        options["entry_script"] = fields.pop("entry_script")
    else:
        options["entry_script"] = UNSET
    options.update(fields)
    return options
