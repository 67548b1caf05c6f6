"""The server side of the model registry and endpoints: what the REST handlers share (issue 8).

Who calls what: `handlers/models.py` and `handlers/endpoints.py` call a `Registry` (one per
server, built on first use and kept in the web app's settings) through `services.run`, so
every method here is blocking and runs off the event loop. The registry does not re-implement
registering or serving: versions are registered through `ws.models` (client/models.py, helper
A's code: blobs, manifest sha256, signature, environment, lineage), endpoints are deployed,
changed and deleted through `ws.endpoints` (client/endpoints.py, helper B's code) with the
server's own `EndpointManager` running them. Both are built on `_ServerWorkspace`, which hands
them the stores the server already has open instead of opening a second connection.

Decisions:
- `path` in a register body is a file or folder on the server's machine. It is resolved
  against the server's root dir (the folder JupyterLab shows); absolute paths are accepted
  only when their real path is inside it, and a symlink anywhere on the way that leads out
  is refused (`resolve_server_path`). Inside a folder, `models.files.collect` refuses links
  that leave the folder. Anyone with the Jupyter token can already read the files under the
  root through the contents API, so this exposes nothing new, and nothing outside it. The
  workspace folder is refused too, with what is in it and any folder that holds it (the root
  dir itself, usually): its database and blobs are not a model, and copying them is waste.
- Deleting a model, or a version, that an endpoint serves is refused with 409 naming the
  endpoint(s): the endpoint would lose its files on the next restart. Versions served through
  an alias count by their resolved (pinned) version; removing an alias an endpoint follows is
  refused the same way (the endpoint could not resolve it any more).
- Key material: only the deploy and regenerate answers carry plaintext keys; everything else
  is built from `Endpoint.to_dict()`, which leaves the hashes out.
- Endpoints in the server are always run by the server's own manager (app.py, trait
  `serve_endpoints`): `ServerEndpoints.ensure_manager` never starts a second, in-process one
  in the server. With `serve_endpoints` off, a deploy needs another live manager
  (`jupyter mlws endpoints serve`), else 503 saying so.
- Deployment names ('blue', 'green') follow the endpoint-name rule, 32 characters at most,
  checked here before anything is stored; PATCH `deployments` resolve each model reference
  on the server, so a client never chooses the sha256 a replica loads.
- Live event `REGISTRY_EVENT_SCHEMA_ID` ({action: model_changed|endpoint_changed, name}): the
  handlers emit it after each change made through them, so other browser tabs refresh; changes
  made from Python or the CLI are seen on the panel's next refresh, not pushed. It names what
  changed, never its content (so no key material can ride on it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, Field

from ..entities import Deployment
from ..errors import Conflict, InvalidParameter, Unavailable
from ..validation import parse_model_ref, validate_alias, validate_endpoint_name, validate_model_name

if TYPE_CHECKING:
    from ..client.workspace import Workspace
    from ..entities import Endpoint, ModelVersion, RegisteredModel
    from ..location import WorkspaceLocation
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore
    from .services import WorkspaceServices

_SETTINGS_KEY = "mlws_registry"
REGISTRY_EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_mlws/registry/v1"
_VERSION = re.compile(r"[0-9]{1,9}")
_KEY_NAMES = ("primary", "secondary")
_DEPLOYMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


class RegistryLiveEvent(BaseModel):
    """A model or an endpoint changed through the REST API (pushed on the events websocket)."""

    action: Literal["model_changed", "endpoint_changed"]
    name: str = Field(description="The model's or the endpoint's name.")


REGISTRY_EVENT_SCHEMA: dict[str, Any] = {
    "$id": REGISTRY_EVENT_SCHEMA_ID,
    "version": "1",
    "title": "ML workspace model registry and endpoint changes",
    "personal-data": False,
    "description": RegistryLiveEvent.__doc__,
    "type": "object",
    "required": ["action", "name"],
    "properties": RegistryLiveEvent.model_json_schema()["properties"],
}


RegistryAction = Literal["model_changed", "endpoint_changed"]


def emit_change(settings: dict[str, Any], action: RegistryAction, name: str) -> None:
    """Tell the browsers that model/endpoint `name` changed (nothing when events are off)."""
    logger = settings.get("event_logger")
    if logger is not None:
        event = RegistryLiveEvent(action=action, name=name)
        logger.emit(schema_id=REGISTRY_EVENT_SCHEMA_ID, data=event.model_dump())


def parse_version(text: str) -> int:
    """A version number from a URL segment: a positive whole number, else a 400."""
    if not _VERSION.fullmatch(text) or int(text) < 1:
        raise InvalidParameter(f"Model version must be a whole number from 1, not {text[:40]!r}.")
    return int(text)


def parse_key_name(text: str) -> str:
    """'primary' or 'secondary', else a 400 (the key's name is never echoed as a key)."""
    if text not in _KEY_NAMES:
        raise InvalidParameter(f"Key name must be 'primary' or 'secondary', not {text[:40]!r}.")
    return text


def resolve_server_path(
    root_dir: str | os.PathLike[str], given: str, workspace: str | os.PathLike[str] | None = None
) -> Path:
    """The real path of `given` (relative to `root_dir`, or absolute), proven inside `root_dir`.

    Refused with InvalidParameter: empty, NUL, a path outside the root (`..`, an absolute path
    elsewhere, a symlink on the way that leads out), a missing path, and the local `workspace`
    folder, anything in it or any folder holding it (the root dir itself, usually).
    """
    if not isinstance(given, str) or not given.strip():
        raise InvalidParameter("path is empty: name a file or folder under the server's root dir.")
    if "\x00" in given or len(given) > 4096:
        raise InvalidParameter("path is not a valid file name.")
    root = Path(os.path.realpath(root_dir))
    candidate = Path(given).expanduser() if given.startswith("~") else Path(given)
    joined = candidate if candidate.is_absolute() else root / candidate
    real = Path(os.path.realpath(joined))
    if not real.is_relative_to(root):
        raise InvalidParameter(
            f"path {given[:200]!r} is outside the server's root dir; only files under it can be registered."
        )
    if not real.exists():
        raise InvalidParameter(f"path {given[:200]!r} does not exist under the server's root dir.")
    if workspace is not None:
        own = Path(os.path.realpath(workspace))
        if real.is_relative_to(own) or own.is_relative_to(real):
            raise InvalidParameter(
                f"path {given[:200]!r} holds the workspace's own files (its database and artifact store); "
                "register a model file or a folder of model files."
            )
    return real


class _ServerWorkspace:
    """What `ws.models` / `ws.endpoints` need of a Workspace, on the server's open stores."""

    def __init__(self, services: WorkspaceServices) -> None:
        self._services = services

    @property
    def location(self) -> WorkspaceLocation:
        return self._services.location

    @property
    def store(self) -> MetadataStore:
        return self._services.store

    @property
    def artifact_store(self) -> ArtifactStore:
        return self._services.artifacts

    def settle(self, run_id: str | None = None, timeout: float = 60.0) -> bool:
        return True  # nothing of the server's own is pending

    def flush(self) -> None:
        pass


class Registry:
    """Model registry and endpoint operations of one server (blocking: call through services.run)."""

    def __init__(self, services: WorkspaceServices, root_dir: str, settings: dict[str, Any]) -> None:
        self.services = services
        self.root_dir = root_dir
        self._settings = settings
        self.workspace = _ServerWorkspace(services)
        self._models: Any = None
        self._endpoints: Any = None

    @classmethod
    def of(cls, services: WorkspaceServices, settings: dict[str, Any]) -> Registry:
        """The server's registry (built on first use)."""
        found: Registry | None = settings.get(_SETTINGS_KEY)
        if found is None or found.services is not services:
            root = settings.get("server_root_dir") or os.getcwd()
            found = settings[_SETTINGS_KEY] = cls(services, str(root), settings)
        return found

    @property
    def manager(self) -> Any:
        """The server's EndpointManager (app.py sets it once started; None with serve_endpoints off)."""
        return self._settings.get("mlws_endpoint_manager")

    @property
    def store(self) -> MetadataStore:
        return self.services.store

    @property
    def models(self) -> Any:
        """`ws.models` (client/models.py) on the server's stores."""
        if self._models is None:
            from ..client.models import Models

            self._models = Models(self.workspace)
        return self._models

    # ----- models ------------------------------------------------------------------------
    def create_model(
        self, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        return self.store.create_registered_model(
            validate_model_name(name), description=description, tags=tags
        )

    def model_detail(self, name: str) -> tuple[RegisteredModel, list[ModelVersion], list[str]]:
        model = self.models.model(name)
        return model, self.store.list_model_versions(name), self.serving_endpoints(name)

    def update_model(self, name: str, **changes: Any) -> RegisteredModel:
        return self.store.update_registered_model(validate_model_name(name), **changes)

    def delete_model(self, name: str) -> None:
        self.models.model(name)  # 404 first
        self._refuse_if_served(name, None)
        self.models.delete(name)

    def versions(self, name: str) -> list[ModelVersion]:
        return self.store.list_model_versions(validate_model_name(name))

    def version(self, name: str, version: int) -> ModelVersion:
        return self.store.get_model_version(validate_model_name(name), version)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(validate_model_name(name), validate_alias(alias))

    def register(
        self,
        name: str,
        *,
        run_id: str | None = None,
        artifact_path: str | None = None,
        path: str | None = None,
        **options: Any,
    ) -> ModelVersion:
        """Register through `ws.models.register`, from a run's artifact or a server-side path."""
        validate_model_name(name)
        if path is not None and (run_id is not None or artifact_path is not None):
            raise InvalidParameter("Give either path, or run_id with artifact_path; not both.")
        if path is None:
            if run_id is None or artifact_path is None:
                raise InvalidParameter(
                    "Say where the model files are: run_id with artifact_path (a run's artifact), "
                    "or path (a file or folder under the server's root dir)."
                )
            return self.models.register(name, run=run_id, artifact_path=artifact_path, **options)  # type: ignore[no-any-return]
        location = self.services.location
        own = location.workspace if location.is_local else None
        local = resolve_server_path(self.root_dir, path, own)
        # errors and the lineage name the path as the user gave it, not where it is on this disk
        return self.models.register(name, local, path_label=path, **options)  # type: ignore[no-any-return]

    def update_version(self, name: str, version: int, **changes: Any) -> ModelVersion:
        if changes.get("trusted_types") is not None:
            changes["trusted_types"] = tuple(sorted(set(changes["trusted_types"])))
        return self.store.update_model_version(validate_model_name(name), version, **changes)

    def delete_version(self, name: str, version: int) -> None:
        self.version(name, version)  # 404 first
        self._refuse_if_served(name, version)
        self.models.delete_version(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Set or move `alias`; the version it points at now."""
        self.models.set_alias(name, alias, version)
        return self.store.get_model_version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; refused while an endpoint follows it (it could not resolve it again)."""
        reference = f"{validate_model_name(name)}@{validate_alias(alias)}"
        endpoints = self.store.list_endpoints()
        following = [e.name for e in endpoints if any(d.model == reference for d in e.deployments)]
        if following:
            raise Conflict(
                f"{reference} is followed by endpoint {', '.join(following)}; "
                "deploy another reference there before removing the alias."
            )
        self.models.delete_alias(name, alias)

    # ----- endpoints ---------------------------------------------------------------------------
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

    # ----- what endpoints serve --------------------------------------------------------------
    def serving_endpoints(self, name: str, version: int | None = None) -> list[str]:
        """Endpoints with a deployment of model `name` (of `version`, when given)."""
        found = []
        for endpoint in self.store.list_endpoints():
            for deployment in endpoint.deployments:
                if model_name(deployment.model) == name and (
                    version is None or deployment.version == version
                ):
                    found.append(endpoint.name)
                    break
        return found

    def _refuse_if_served(self, name: str, version: int | None) -> None:
        served = self.serving_endpoints(name, version)
        if served:
            what = f"Model {name!r}" if version is None else f"Version {version} of model {name!r}"
            raise Conflict(
                f"{what} is served by endpoint{'s' if len(served) > 1 else ''} {', '.join(served)}; "
                "delete the endpoint or deploy another version there first."
            )


def validate_deployment_name(name: str) -> str:
    """A deployment's name ('blue', 'green', 'canary-2'): the rule of endpoint names, 32 characters."""
    if not isinstance(name, str) or not _DEPLOYMENT.fullmatch(name):
        raise InvalidParameter(
            f"deployment name {str(name)[:40]!r} is not valid: 1-32 lowercase letters, digits and '-', "
            "starting with a letter or digit."
        )
    return name


def _server_endpoints(registry: Registry) -> Any:
    """`Endpoints` whose manager is this server's: never a second, in-process one in the server."""
    from ..client.endpoints import Endpoints
    from ..serving import procs

    class ServerEndpoints(Endpoints):
        def ensure_manager(self) -> Any:
            if registry.manager is not None:
                return registry.manager
            if procs.live_managers(procs.serving_dir(self.workspace.location.workspace)):
                return None  # `jupyter mlws endpoints serve` (or a kernel) runs them
            raise Unavailable(
                "No endpoint manager runs this workspace: this server has serve_endpoints off; "
                "start one with `jupyter mlws endpoints serve`."
            )

    # `_ServerWorkspace` has what Endpoints uses of a Workspace (location, store, artifact_store).
    return ServerEndpoints(cast("Workspace", registry.workspace))


def model_name(reference: str) -> str:
    """The model name of a reference string: 'churn', 'churn:3', 'churn@production' -> 'churn'."""
    try:
        return parse_model_ref(reference)[0]
    except InvalidParameter:  # a stored reference written by another version: its name part
        return re.split(r"[:@]", reference, maxsplit=1)[0]
