"""The model-registry and endpoint part of the store interface (a base of `MetadataStore`).

Kept apart from store/base.py so each file stays one subject. Names follow DESIGN.md §5;
every backend implements them (SQL: store/sql/registry.py and endpoints.py; REST:
store/rest_registry.py) and the contract suite in tests/store/ runs against each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Endpoint, ModelFile, ModelVersion, RegisteredModel


class RegistryStore(ABC):
    """Models, versions, aliases and endpoints."""

    @abstractmethod
    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """A new model name (`AlreadyExists` if taken)."""

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model with its aliases and latest version number, or `NotFound`."""

    @abstractmethod
    def list_registered_models(self) -> list[RegisteredModel]:
        """Every model, by name."""

    @abstractmethod
    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Change the description and/or replace the tags of a model."""

    @abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Forget a model with its versions and aliases (`NotFound`)."""

    @abstractmethod
    def create_model_version(
        self,
        name: str,
        *,
        flavor: str,
        files: Sequence[ModelFile],
        sha256: str,
        size_bytes: int,
        signature: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        source_run_id: str | None = None,
        source_path: str | None = None,
        trusted: bool = False,
        trusted_types: Sequence[str] = (),
        description: str = "",
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Record the next version of `name` (created if missing): 1, 2, 3 ... in one transaction.

        The files must already be stored (models/files.py puts them in the artifact store)."""

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version, or `NotFound`."""

    @abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of `name`, newest first (`NotFound` for an unknown model)."""

    @abstractmethod
    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        trusted: bool | None = None,
        trusted_types: Sequence[str] | None = None,
    ) -> ModelVersion:
        """Change what may change about a version (never its files)."""

    @abstractmethod
    def delete_model_version(self, name: str, version: int) -> None:
        """Forget a version and the aliases that point at it."""

    @abstractmethod
    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` at `version` (created or moved)."""

    @abstractmethod
    def delete_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (`NotFound` if it is not there)."""

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version `alias` points at, or `NotFound`."""

    @abstractmethod
    def create_endpoint(self, endpoint: Endpoint) -> Endpoint:
        """Store a new endpoint (`AlreadyExists`); sets its times."""

    @abstractmethod
    def get_endpoint(self, name: str) -> Endpoint:
        """One endpoint (with its key hashes: never hand them on), or `NotFound`."""

    @abstractmethod
    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, by name."""

    @abstractmethod
    def update_endpoint(self, name: str, **changes: Any) -> Endpoint:
        """Change fields of an endpoint (Endpoint field names)."""

    @abstractmethod
    def delete_endpoint(self, name: str) -> None:
        """Forget an endpoint (`NotFound`); its replicas are the manager's to stop."""

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give a model a new name, keeping its versions, aliases and tags (`NotFound`, and
        `AlreadyExists` when the new name is taken). A backend that cannot refuses (`Unavailable`);
        the SQL store can (MLflow's `registered-models/rename` calls it)."""
        from ..errors import Unavailable

        raise Unavailable(f"This workspace's store ({type(self).__name__}) cannot rename models.")

    # ----- built on the core ----------------------------------------------------------------
    def resolve_model(self, ref: str) -> ModelVersion:
        """The version a reference names: 'name' (latest), 'name:3', 'name@alias'."""
        from ..errors import NotFound
        from ..validation import parse_model_ref

        name, version, alias = parse_model_ref(ref)
        if alias is not None:
            return self.get_model_version_by_alias(name, alias)
        if version is not None:
            return self.get_model_version(name, version)
        latest = self.get_registered_model(name).latest_version
        if latest is None:
            raise NotFound(f"model {name!r} has no versions")
        return self.get_model_version(name, latest)
