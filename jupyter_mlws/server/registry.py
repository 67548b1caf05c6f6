"""The server side of the model registry: what the model handlers call (issue 8).

Who calls what: `handlers/models.py` calls a `Registry` (one per server, built on first use
and kept in the web app's settings) through `services.run`, so every method here is blocking
and runs off the event loop. The registry does not re-implement registering: versions are
registered through `ws.models` (client/models.py, helper A's code: blobs, manifest sha256,
signature, environment, lineage), built on `ServerWorkspace`, which hands it the stores the
server already has open instead of opening a second connection (the endpoint side,
server/endpoints.py, uses it too). The live event the handlers send after a change is
server/registry_events.py.

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
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidParameter
from ..validation import parse_model_ref, validate_alias, validate_model_name

if TYPE_CHECKING:
    from ..entities import ModelVersion, RegisteredModel
    from ..location import WorkspaceLocation
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore
    from .services import WorkspaceServices

_SETTINGS_KEY = "mlws_registry"
_VERSION = re.compile(r"[0-9]{1,9}")


def parse_version(text: str) -> int:
    """A version number from a URL segment: a positive whole number, else a 400."""
    if not _VERSION.fullmatch(text) or int(text) < 1:
        raise InvalidParameter(f"Model version must be a whole number from 1, not {text[:40]!r}.")
    return int(text)


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


class ServerWorkspace:
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

    @property
    def is_remote(self) -> bool:
        return self.location.store_kind == "rest"

    def settle(self, run_id: str | None = None, timeout: float = 60.0) -> bool:
        return True  # nothing of the server's own is pending

    def flush(self) -> None:
        pass


class Registry:
    """Model registry operations of one server (blocking: call through services.run)."""

    def __init__(self, services: WorkspaceServices, root_dir: str) -> None:
        self.services = services
        self.root_dir = root_dir
        self.workspace = ServerWorkspace(services)
        self._models: Any = None

    @classmethod
    def of(cls, services: WorkspaceServices, settings: dict[str, Any]) -> Registry:
        """The server's registry (built on first use)."""
        found: Registry | None = settings.get(_SETTINGS_KEY)
        if found is None or found.services is not services:
            root = settings.get("server_root_dir") or os.getcwd()
            found = settings[_SETTINGS_KEY] = cls(services, str(root))
        return found

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
        """Register through `ws.models.register`, from a run's artifact or a server-side path,
        or record a version whose files a client uploaded as blobs (`files`)."""
        validate_model_name(name)
        if options.get("files") is not None:
            if path is not None or artifact_path is not None:
                raise InvalidParameter(
                    "Give files (uploaded blobs), path, or run_id with artifact_path; one of them."
                )
            return self.register_files(
                name, source_run_id=options.pop("source_run_id", None) or run_id, **options
            )
        for field in ("files", "signature", "environment", "source_run_id", "source_path"):
            if options.pop(field, None) is not None:
                raise InvalidParameter(f"{field} goes with files (a version made of uploaded blobs) only.")
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

    def register_files(
        self,
        name: str,
        *,
        files: list[dict[str, Any]],
        flavor: str | None = None,
        example: Any = None,
        signature: dict[str, Any] | None = None,
        environment: dict[str, Any] | None = None,
        source_run_id: str | None = None,
        source_path: str | None = None,
        **options: Any,
    ) -> ModelVersion:
        """A version made of blobs a client uploaded (a workspace URL's `ws.models.register`).

        Every file must name a stored blob of its size: the blob's bytes were hashed when they
        arrived, so the manifest and its sha256 computed here describe bytes the server holds."""
        from ..entities import ModelFile
        from ..models.files import manifest_sha256
        from ..paths import safe_relative_path

        if not files:
            raise InvalidParameter("A model version needs at least one file.")
        if example is not None and signature is not None:
            raise InvalidParameter("Give example (to infer the signature) or signature, not both.")
        artifacts = self.services.artifacts
        manifest = []
        for item in files:
            path, size, sha256 = (
                item[k] if isinstance(item, dict) else getattr(item, k) for k in ("path", "size", "sha256")
            )
            stored = artifacts.blob_size(sha256)
            if stored is None or stored != size:
                raise InvalidParameter(
                    f"Model file {path!r}: no blob {sha256} of {size} bytes is stored "
                    "(upload it first with PUT /blobs/{sha256})."
                )
            manifest.append(ModelFile(path=safe_relative_path(path), size=int(size), sha256=sha256))
        manifest.sort(key=lambda f: f.path)
        if len({f.path for f in manifest}) != len(manifest):
            raise InvalidParameter("A model version names each file once.")
        if source_run_id is not None:
            self.store.get_run_info(source_run_id)  # NotFound for an unknown run
        if example is not None:
            from ..models.signature import infer_signature

            signature = infer_signature(example)
        return self.models.record_version(  # type: ignore[no-any-return]
            name,
            files=tuple(manifest),
            sha256=manifest_sha256(manifest),
            size=sum(f.size for f in manifest),
            flavor=flavor,
            signature=signature,
            environment=environment,
            source_run_id=source_run_id,
            source_path=source_path,
            **options,
        )

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


def model_name(reference: str) -> str:
    """The model name of a reference string: 'churn', 'churn:3', 'churn@production' -> 'churn'."""
    try:
        return parse_model_ref(reference)[0]
    except InvalidParameter:  # a stored reference written by another version: its name part
        return re.split(r"[:@]", reference, maxsplit=1)[0]
