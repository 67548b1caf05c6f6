"""The registry and endpoint part of the REST store: `/mlws/api/v1/models/...`, `/endpoints/...`.

A base of `RestStore`. Reads, metadata, aliases and deletes go through the server's routes.
Two things are refused here, on purpose: recording a version from already-stored files
(`create_model_version`) — over HTTP a version is registered by `POST /models/{name}/versions`,
which copies and hashes the files on the server — and storing a raw endpoint
(`create_endpoint`) with key hashes — endpoints are deployed by `POST /endpoints`, and key
material never travels except once, in the answer that made it. Endpoints read back over
HTTP carry no key hashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Endpoint, ModelVersion, RegisteredModel
from ..errors import Forbidden
from ..http import HttpClient, path_segment

API = "/mlws/api/v1"


def _model_url(name: str) -> str:
    return f"{API}/models/{path_segment(name)}"


def _given(**fields: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items() if v is not None}


class RestRegistryMixin:
    """Models, versions, aliases and endpoints over HTTP."""

    http: HttpClient

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        body = _given(name=name, description=description, tags=dict(tags) if tags else None)
        return RegisteredModel.from_dict(self.http.json("POST", f"{API}/models", json_body=body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return RegisteredModel.from_dict(self.http.json("GET", _model_url(name)))

    def list_registered_models(self) -> list[RegisteredModel]:
        return [RegisteredModel.from_dict(m) for m in self.http.json("GET", f"{API}/models")["models"]]

    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        body = _given(description=description, tags=dict(tags) if tags is not None else None)
        return RegisteredModel.from_dict(self.http.json("PATCH", _model_url(name), json_body=body))

    def delete_registered_model(self, name: str) -> None:
        self.http.request("DELETE", _model_url(name))

    def create_model_version(self, name: str, **fields: Any) -> ModelVersion:
        raise Forbidden(
            "over HTTP a model version is registered with POST /models/{name}/versions, "
            "which stores and hashes its files on the server"
        )

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return ModelVersion.from_dict(self.http.json("GET", f"{_model_url(name)}/versions/{int(version)}"))

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        answer = self.http.json("GET", f"{_model_url(name)}/versions")
        return [ModelVersion.from_dict(v) for v in answer["versions"]]

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
        body = _given(
            description=description,
            tags=dict(tags) if tags is not None else None,
            trusted=trusted,
            trusted_types=list(trusted_types) if trusted_types is not None else None,
        )
        url = f"{_model_url(name)}/versions/{int(version)}"
        return ModelVersion.from_dict(self.http.json("PATCH", url, json_body=body))

    def delete_model_version(self, name: str, version: int) -> None:
        self.http.request("DELETE", f"{_model_url(name)}/versions/{int(version)}")

    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        url = f"{_model_url(name)}/aliases/{path_segment(alias)}"
        self.http.json("PUT", url, json_body={"version": int(version)})

    def delete_model_alias(self, name: str, alias: str) -> None:
        self.http.request("DELETE", f"{_model_url(name)}/aliases/{path_segment(alias)}")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        url = f"{_model_url(name)}/aliases/{path_segment(alias)}"
        return ModelVersion.from_dict(self.http.json("GET", url))

    def create_endpoint(self, endpoint: Endpoint) -> Endpoint:
        raise Forbidden("over HTTP an endpoint is deployed with POST /endpoints; key material never travels")

    def get_endpoint(self, name: str) -> Endpoint:
        return Endpoint.from_dict(self.http.json("GET", f"{API}/endpoints/{path_segment(name)}"))

    def list_endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_dict(e) for e in self.http.json("GET", f"{API}/endpoints")["endpoints"]]

    def update_endpoint(self, name: str, **changes: Any) -> Endpoint:
        if "key_hashes" in changes:
            raise Forbidden("keys are rotated with POST /endpoints/{name}/keys/{primary|secondary}")
        body = {k: ([d.to_dict() for d in v] if k == "deployments" else v) for k, v in changes.items()}
        return Endpoint.from_dict(
            self.http.json("PATCH", f"{API}/endpoints/{path_segment(name)}", json_body=body)
        )

    def delete_endpoint(self, name: str) -> None:
        self.http.request("DELETE", f"{API}/endpoints/{path_segment(name)}")
