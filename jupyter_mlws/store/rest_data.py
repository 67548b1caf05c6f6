"""The data-asset part of the REST store: `/mlws/api/v1/data/...` (a base of `RestStore`).

A client registers a version by uploading its files as blobs first (`PUT /blobs/{sha256}`, through
the REST artifact store) and then posting the manifest; the server checks that every blob is there
and that the manifest hashes to the version's digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import DataAsset, DataVersion, ModelFile
from ..http import HttpClient, path_segment

API = "/mlws/api/v1/data"


class RestDataMixin:
    """`create/get/list_data_*` over HTTP."""

    http: HttpClient

    def create_data_version(
        self,
        name: str,
        *,
        files: Sequence[ModelFile],
        sha256: str,
        size_bytes: int,
        source: str = "",
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        source_run_id: str | None = None,
    ) -> DataVersion:
        body = {
            "name": name,
            "files": [f.to_dict() for f in files],
            "sha256": sha256,
            "source": source,
            "description": description,
            "tags": dict(tags or {}),
            "source_run_id": source_run_id,
        }
        return DataVersion.from_dict(self.http.json("POST", API, json_body=body))

    def get_data_version(self, name: str, version: int | None = None) -> DataVersion:
        which = "latest" if version is None else str(version)
        return DataVersion.from_dict(
            self.http.json("GET", f"{API}/{path_segment(name)}/versions/{path_segment(which)}")
        )

    def list_data_assets(self) -> list[DataAsset]:
        return [DataAsset(**a) for a in self.http.json("GET", API)["assets"]]

    def list_data_versions(self, name: str) -> list[DataVersion]:
        answer = self.http.json("GET", f"{API}/{path_segment(name)}/versions")
        return [DataVersion.from_dict(v) for v in answer["versions"]]
