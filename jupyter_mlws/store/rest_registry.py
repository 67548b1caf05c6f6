"""The registry and endpoint part of the REST store: `/mlws/api/v1/models/...`, `/endpoints/...`.

A base of `RestStore`. Reads, metadata, aliases and deletes go through the server's routes.
A version is recorded (`create_model_version`) from blobs this client uploaded first; the server
checks each blob and computes the manifest digest itself. Refused here, on purpose: storing a raw
endpoint (`create_endpoint`) with key hashes — endpoints are deployed by `POST /endpoints`, and key
material never travels except once, in the answer that made it. Endpoints read back over
HTTP carry no key hashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Endpoint, ModelFile, ModelVersion, RegisteredModel
from ..errors import Conflict, Forbidden
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
        """A version made of blobs this client uploaded (`PUT /blobs/{sha256}`, done by
        `ws.models.register` through the REST artifact store). The server checks that each blob
        is stored with its size and computes the manifest's sha256 itself."""
        body = _given(
            files=[{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
            flavor=flavor,
            signature=dict(signature) if signature else None,
            environment=dict(environment) if environment else None,
            source_run_id=source_run_id,
            source_path=source_path,
            trusted=trusted,
            trusted_types=list(trusted_types),
            description=description,
            tags={str(k): str(v) for k, v in tags.items()} if tags else None,
        )
        made = ModelVersion.from_dict(self.http.json("POST", f"{_model_url(name)}/versions", json_body=body))
        if made.sha256 != sha256 or made.size_bytes != size_bytes:
            raise Conflict(
                f"The server recorded version {made.version} of {name!r} with other files than were sent."
            )
        return made

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
        raise Forbidden(
            "create_endpoint is not available on a workspace URL: the server deploys endpoints "
            "(ws.endpoints.deploy, POST /endpoints); key material never travels"
        )

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


class RestEndpointCalls:
    """What only the server can do with an endpoint, asked of it over HTTP (a workspace URL's
    `ws.endpoints`): deploy (the keys come back once), change replicas and traffic, rotate a key,
    read the replicas' logs, and score through the server's relay."""

    http: HttpClient

    def deploy_endpoint(self, name: str, **options: Any) -> tuple[Endpoint, dict[str, str] | None]:
        answer = self.http.json("POST", f"{API}/endpoints", json_body=_given(name=name, **options))
        keys = answer.pop("keys", None)
        return Endpoint.from_dict(answer), keys

    def reconfigure_endpoint(
        self, name: str, *, replicas: int | None = None, traffic: Mapping[str, int] | None = None
    ) -> Endpoint:
        body = _given(replicas=replicas, traffic=dict(traffic) if traffic is not None else None)
        return Endpoint.from_dict(
            self.http.json("PATCH", f"{API}/endpoints/{path_segment(name)}", json_body=body)
        )

    def regenerate_endpoint_key(self, name: str, slot: str) -> str:
        url = f"{API}/endpoints/{path_segment(name)}/keys/{path_segment(slot)}"
        return str(self.http.json("POST", url)["key"])

    def endpoint_logs(self, name: str, lines: int) -> str:
        url = f"{API}/endpoints/{path_segment(name)}/logs"
        return str(self.http.json("GET", url, query={"lines": lines})["text"])

    def score_through_server(self, name: str, body: bytes, key: str, content_type: str) -> tuple[Any, bool]:
        """(answer, raw): the endpoint's answer relayed by the server; raw for an entry script's."""
        response = self.http.request(
            "POST",
            f"{API}/endpoints/{path_segment(name)}/score",
            body=body,
            headers={"Content-Type": content_type, "X-MLWS-Endpoint-Key": key},
        )
        return response.json(), response.headers.get("X-MLWS-Answer") == "raw"
