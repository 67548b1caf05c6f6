"""`/mlws/api/v1/data/...`: data assets (issue 16).

- `GET/POST /data` — list the assets; register a version from blobs already uploaded
- `GET /data/{name}/versions` — every version of an asset, oldest first
- `GET /data/{name}/versions/{version}` — one version (`latest` for the newest)

Decisions: a version's files are uploaded first as blobs (`PUT /blobs/{sha256}`); the POST names
them. The server refuses a manifest whose blobs it does not have (each missing one named) and
computes the version's digest itself, so a version always names bytes that are there. Files equal
to the newest version's make no new version (the newest comes back, 200 instead of 201).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ...entities import DataAsset, DataVersion, ModelFile
from ...errors import InvalidParameter, NotFound
from .base import MLWSHandler, route

_TAGS = ("data",)


class DataFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=4096)
    size: StrictInt = Field(ge=0, le=2**62)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DataVersionModel(BaseModel):
    """One version of a data asset: its files (content-addressed) and where they came from."""

    name: str
    version: int
    files: list[DataFileModel]
    sha256: str
    size_bytes: int
    source: str = ""
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    source_run_id: str | None = None
    created_time: int

    @classmethod
    def of(cls, version: DataVersion) -> DataVersionModel:
        return cls(**version.to_dict())


class DataAssetModel(BaseModel):
    name: str
    latest_version: int
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    created_time: int
    updated_time: int

    @classmethod
    def of(cls, asset: DataAsset) -> DataAssetModel:
        return cls(**asset.to_dict())


class DataAssetList(BaseModel):
    assets: list[DataAssetModel]


class DataVersionList(BaseModel):
    versions: list[DataVersionModel]


class NewDataVersion(BaseModel):
    """A version from blobs already uploaded."""

    model_config = ConfigDict(extra="forbid")
    name: str
    files: list[DataFileModel] = Field(min_length=1, max_length=10_000)
    sha256: str | None = Field(
        None, description="The manifest's digest, if the client computed it (checked)."
    )
    source: str = Field("", max_length=4000)
    description: str = ""
    tags: dict[str, str] | None = None
    source_run_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")


class DataHandler(MLWSHandler):
    auth_resource = "mlws:data"


class DataListHandler(DataHandler):
    @route("List data assets", response=DataAssetList, errors=(403,), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.services.store.list_data_assets)
        self.write_model(DataAssetList(assets=[DataAssetModel.of(a) for a in found]))

    @route(
        "Register a version of a data asset from uploaded blobs (the newest, unchanged: no new version)",
        body=NewDataVersion,
        response=DataVersionModel,
        status=201,
        errors=(400, 403),
        tags=_TAGS,
    )
    async def post(self) -> None:
        from ...models.files import manifest_sha256

        body = self.parse_body(NewDataVersion)
        files = tuple(sorted((ModelFile(f.path, f.size, f.sha256) for f in body.files), key=lambda f: f.path))
        digest = manifest_sha256(files)
        if body.sha256 is not None and body.sha256 != digest:
            raise InvalidParameter("The manifest does not hash to the sha256 given.")
        artifacts = self.services.artifacts
        missing = [f.path for f in files if not await self.services.run(artifacts.has_blob, f.sha256)]
        if missing:
            raise InvalidParameter(f"Upload these files' blobs first (PUT /blobs/{{sha256}}): {missing[:20]}")
        store = self.services.store
        try:
            newest: DataVersion | None = await self.services.run(store.get_data_version, body.name)
        except NotFound:
            newest = None
        if newest is not None and newest.sha256 == digest:
            self.write_model(DataVersionModel.of(newest), status=200)
            return

        def create() -> Any:
            return store.create_data_version(
                body.name,
                files=files,
                sha256=digest,
                size_bytes=sum(f.size for f in files),
                source=body.source,
                description=body.description,
                tags=body.tags,
                source_run_id=body.source_run_id,
            )

        created = await self.services.run(create)
        self.write_model(DataVersionModel.of(created), status=201)


class DataVersionsHandler(DataHandler):
    @route("Every version of a data asset", response=DataVersionList, errors=(403, 404), tags=_TAGS)
    async def get(self, name: str) -> None:
        found = await self.services.run(self.services.store.list_data_versions, name)
        self.write_model(DataVersionList(versions=[DataVersionModel.of(v) for v in found]))


class DataVersionHandler(DataHandler):
    @route(
        "One version of a data asset ('latest': the newest)",
        response=DataVersionModel,
        errors=(400, 403, 404),
        tags=_TAGS,
    )
    async def get(self, name: str, version: str) -> None:
        if version == "latest":
            number = None
        elif version.isdigit() and len(version) < 10:
            number = int(version)
        else:
            raise InvalidParameter(f"A data version is a number or 'latest', not {version[:40]!r}.")
        found = await self.services.run(lambda: self.services.store.get_data_version(name, number))
        self.write_model(DataVersionModel.of(found))
