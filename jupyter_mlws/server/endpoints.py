"""The server side of scoring endpoints: what the endpoint handlers call (issue 8).

Who calls what: `handlers/endpoints.py` calls an `EndpointService` (one per server, built on
first use and kept in the web app's settings) through `services.run`, so every method here
is blocking and runs off the event loop. It does not re-implement serving: endpoints are
deployed, changed and deleted through `ws.endpoints` (client/endpoints.py, helper B's code)
with the server's own `EndpointManager` running them, on a `ServerWorkspace`
(server/registry.py) that hands it the stores the server already has open.

Decisions:
- Key material: only the deploy and regenerate answers carry plaintext keys; everything else
  is built from `Endpoint.to_dict()`, which leaves the hashes out.
- Endpoints in the server are always run by the server's own manager (app.py, trait
  `serve_endpoints`): `ServerEndpoints.ensure_manager` never starts a second, in-process one
  in the server. With `serve_endpoints` off, a deploy needs another live manager
  (`jupyter mlws endpoints serve`), else 503 saying so.
- Deployment names ('blue', 'green') follow the endpoint-name rule, 32 characters at most,
  checked here before anything is stored; PATCH `deployments` resolve each model reference
  on the server, so a client never chooses the sha256 a replica loads.
- Deleting what an endpoint serves is refused on the model side (server/registry.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from ..entities import Deployment
from ..errors import InvalidParameter, Unavailable
from ..validation import validate_endpoint_name
from .registry import ServerWorkspace

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from ..entities import Endpoint
    from ..store.base import MetadataStore
    from .services import WorkspaceServices

_SETTINGS_KEY = "mlws_endpoint_service"
_KEY_NAMES = ("primary", "secondary")
_DEPLOYMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def parse_key_name(text: str) -> str:
    """'primary' or 'secondary', else a 400 (the key's name is never echoed as a key)."""
    if text not in _KEY_NAMES:
        raise InvalidParameter(f"Key name must be 'primary' or 'secondary', not {text[:40]!r}.")
    return text


def validate_deployment_name(name: str) -> str:
    """A deployment's name ('blue', 'green', 'canary-2'): the rule of endpoint names, 32 characters."""
    if not isinstance(name, str) or not _DEPLOYMENT.fullmatch(name):
        raise InvalidParameter(
            f"deployment name {str(name)[:40]!r} is not valid: 1-32 lowercase letters, digits and '-', "
            "starting with a letter or digit."
        )
    return name


class EndpointService:
    """Endpoint operations of one server (blocking: call through services.run)."""

    def __init__(self, services: WorkspaceServices, settings: dict[str, Any]) -> None:
        self.services = services
        self._settings = settings
        self.workspace = ServerWorkspace(services)
        self._endpoints: Any = None

    @classmethod
    def of(cls, services: WorkspaceServices, settings: dict[str, Any]) -> EndpointService:
        """The server's endpoint service (built on first use)."""
        found: EndpointService | None = settings.get(_SETTINGS_KEY)
        if found is None or found.services is not services:
            found = settings[_SETTINGS_KEY] = cls(services, settings)
        return found

    @property
    def manager(self) -> Any:
        """The server's EndpointManager (app.py sets it once started; None with serve_endpoints off)."""
        return self._settings.get("mlws_endpoint_manager")

    @property
    def store(self) -> MetadataStore:
        return self.services.store

    @property
    def endpoints(self) -> Any:
        """`ws.endpoints` (client/endpoints.py) on the server's stores, run by the server's manager."""
        if self._endpoints is None:
            self._endpoints = _server_endpoints(self)
        return self._endpoints

    def endpoint_url(self, endpoint: Endpoint) -> str | None:
        from ..client.endpoints import EndpointHandle

        return EndpointHandle(self.endpoints, endpoint).url if endpoint.port else None

    def list_endpoints(self) -> list[Endpoint]:
        return self.store.list_endpoints()

    def get_endpoint(self, name: str) -> Endpoint:
        return self.store.get_endpoint(validate_endpoint_name(name))

    def deploy(
        self, name: str, model: str, *, timeout_seconds: float | None = None, **options: Any
    ) -> tuple[Endpoint, dict[str, str] | None]:
        """Deploy through `ws.endpoints.deploy` (waits until running); the keys when it created them."""
        if timeout_seconds is not None:
            options["timeout_seconds"] = float(timeout_seconds)
        validate_deployment_name(options.get("deployment", "blue"))
        handle = self.endpoints.deploy(name, model, **options)
        keys = handle.keys
        plain = {"primary": keys.primary, "secondary": keys.secondary} if keys.primary else None
        return handle.record, plain

    def update_endpoint(self, name: str, **changes: Any) -> Endpoint:
        """Description and tags as they are; `deployments` (name, model, traffic: each model reference
        resolved here, on the server) replace the endpoint's; then replicas and traffic through
        `EndpointHandle.update`, which waits until the endpoint runs the new configuration."""
        handle = self.endpoints.get(validate_endpoint_name(name))
        labels = {k: changes.pop(k) for k in ("description", "tags") if k in changes}
        if labels:
            handle.record = self.store.update_endpoint(name, **labels)
        if changes.get("deployments") is not None:
            deployments = tuple(self._deployment(d) for d in changes.pop("deployments"))
            if len({d.name for d in deployments}) != len(deployments):
                raise InvalidParameter("deployments: each deployment needs its own name.")
            handle.record = self.store.update_endpoint(name, deployments=deployments)
            changes.setdefault("replicas", None)  # even alone, wait for the new deployments to run
        if changes:
            handle.update(**changes)
        return handle.record  # type: ignore[no-any-return]

    def _deployment(self, given: dict[str, Any]) -> Deployment:
        version = self.store.resolve_model(given["model"])
        name = validate_deployment_name(given["name"])
        return Deployment(name, given["model"], version.version, given["traffic"], version.sha256)

    def delete_endpoint(self, name: str) -> None:
        self.endpoints.delete(validate_endpoint_name(name))

    def endpoint_logs(self, name: str, lines: int) -> str:
        return self.endpoints.logs(validate_endpoint_name(name), lines)  # type: ignore[no-any-return]

    def regenerate_key(self, name: str, slot: str) -> str:
        return self.endpoints.regenerate_key(validate_endpoint_name(name), slot)  # type: ignore[no-any-return]


def _server_endpoints(service: EndpointService) -> Any:
    """`Endpoints` whose manager is this server's: never a second, in-process one in the server."""
    from ..client.endpoints import Endpoints
    from ..serving import procs

    class ServerEndpoints(Endpoints):
        def ensure_manager(self) -> Any:
            if service.manager is not None:
                return service.manager
            if procs.live_managers(procs.serving_dir(self.workspace.location.workspace)):
                return None  # `jupyter mlws endpoints serve` (or a kernel) runs them
            raise Unavailable(
                "No endpoint manager runs this workspace: this server has serve_endpoints off; "
                "start one with `jupyter mlws endpoints serve`."
            )

    # `ServerWorkspace` has what Endpoints uses of a Workspace (location, store, artifact_store).
    return ServerEndpoints(cast("Workspace", service.workspace))
