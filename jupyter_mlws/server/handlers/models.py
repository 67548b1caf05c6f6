"""`/mlws/api/v1/models/...`: the model registry over REST (issue 8).

- `GET/POST /models`; `GET/PATCH/DELETE /models/{name}`
- `GET/POST /models/{name}/versions`; `GET/PATCH/DELETE /models/{name}/versions/{version}`
- `PUT/DELETE /models/{name}/aliases/{alias}`

Who calls what: the panel's Models tab and `ModelRegistry()` widget call these routes; every
write goes through `server/registry.py`, which registers through `ws.models` (client/models.py)
so REST, Python and the CLI store the same versions (files as content-addressed blobs, the
manifest sha256, signature, environment, lineage) and refuse the same input.

Decisions: a `path` in a register body names a file or folder on the server's machine,
relative to the server's root dir (absolute paths are accepted only when they resolve inside
it; a symlink out of it is refused) — the browser never uploads model files through this
route, and nobody reads `/etc` through it. Deleting a model or a version that an endpoint
serves is a 409 naming the endpoint (delete or move the endpoint first). Trusting a version
(`trusted`, `trusted_types`) needs `write` on `mlws:models:trust` too (`check_trust`). Bodies type their
fields only; the rules (name patterns, alias pattern, trusted types) are the registry's, so
a broken rule is a 400 with its message.
"""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ...entities import ModelVersion, RegisteredModel
from ...errors import Forbidden
from ..registry import Registry, parse_version
from .base import route
from .registry_base import RegistryHandler

#: The authorizer resource that trusting a model version needs (action "write").
TRUST_RESOURCE = "mlws:models:trust"

_TAGS = ("models",)


# ----- answers -------------------------------------------------------------------------------
class ModelFileModel(BaseModel):
    path: str = Field(description="Path inside the version ('/'-separated).")
    size: int
    sha256: str


class ModelVersionModel(BaseModel):
    """One registered version of a model."""

    name: str
    version: int
    flavor: str = Field(description="sklearn, onnx, python, pickle or mlflow.")
    files: list[ModelFileModel]
    sha256: str = Field(description="The sha256 of the version's manifest: it names the exact files.")
    size_bytes: int
    signature: dict[str, Any] | None = Field(None, description="Input (and output) columns with their types.")
    environment: dict[str, Any] = Field(
        default_factory=dict, description="Python and packages it was made with."
    )
    source_run_id: str | None = Field(None, description="The run it was registered from (lineage).")
    source_path: str | None = Field(
        None, description="The artifact path in that run, or the file it came from."
    )
    trusted: bool = Field(description="Whether formats that run code (pickle, python) may be loaded.")
    trusted_types: list[str] = Field(default_factory=list, description="skops types accepted on load.")
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    created_time: int = Field(description="Milliseconds since the Unix epoch (UTC).")

    @classmethod
    def of(cls, version: ModelVersion) -> ModelVersionModel:
        return cls.model_validate(version.to_dict())


class ModelVersionList(BaseModel):
    versions: list[ModelVersionModel] = Field(description="Newest first.")


class VersionSummary(BaseModel):
    """A version as listed under its model."""

    version: int
    flavor: str
    sha256: str
    size_bytes: int
    trusted: bool
    aliases: list[str]
    source_run_id: str | None = None
    created_time: int


class RegisteredModelModel(BaseModel):
    """A model name: its versions count up from 1; each alias points at one of them."""

    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, int] = Field(default_factory=dict, description="alias -> version")
    latest_version: int | None = None
    created_time: int
    updated_time: int

    @classmethod
    def of(cls, model: RegisteredModel) -> RegisteredModelModel:
        return cls.model_validate(model.to_dict())


class RegisteredModelDetail(RegisteredModelModel):
    versions: list[VersionSummary] = Field(default_factory=list, description="Newest first.")
    served_by: list[str] = Field(default_factory=list, description="Endpoints serving one of its versions.")


class RegisteredModelList(BaseModel):
    models: list[RegisteredModelModel] = Field(description="By name.")


# ----- bodies --------------------------------------------------------------------------------
_NAME_HELP = "Letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters."


class CreateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description=_NAME_HELP)
    description: str = ""
    tags: dict[str, str] | None = None


class UpdateModel(BaseModel):
    """Only the fields given change; `tags` replaces the whole dict."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    tags: dict[str, str] | None = None


class RegisterVersion(BaseModel):
    """Either `run_id` + `artifact_path` (a run's artifact), `path` (a file or folder on the
    server's machine, relative to the server's root dir), or `files` (a manifest of blobs the
    client uploaded first with `PUT /blobs/{sha256}`: how a workspace URL registers local files)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str | None = None
    artifact_path: str | None = None
    path: str | None = None
    files: list[ModelFileModel] | None = Field(
        None, description="The version's files as uploaded blobs (path, size, sha256)."
    )
    signature: dict[str, Any] | None = Field(None, description="With `files`: the inferred signature.")
    environment: dict[str, Any] | None = Field(None, description="With `files`: Python and packages.")
    source_run_id: str | None = Field(None, description="With `files`: the run it came from (lineage).")
    source_path: str | None = Field(None, description="With `files`: where the files came from.")
    flavor: str | None = Field(
        None, description="sklearn, onnx, python, pickle or mlflow; default: detected."
    )
    example: list[dict[str, Any]] | dict[str, list[Any]] | None = Field(
        None, description="An example input (records or columns) to infer the signature from."
    )
    description: str = ""
    tags: dict[str, str] | None = None
    trusted: StrictBool = False
    trusted_types: list[str] | None = None


class UpdateVersion(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    tags: dict[str, str] | None = None
    trusted: StrictBool | None = None
    trusted_types: list[str] | None = None


class SetAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: StrictInt = Field(description="The version the alias points at from now on.")


# ----- handlers ------------------------------------------------------------------------------
class ModelsHandler(RegistryHandler):
    """What the model handlers share: the server-side registry (server/registry.py)."""

    auth_resource = "mlws:models"
    change_action = "model_changed"

    @property
    def registry(self) -> Registry:
        return Registry.of(self.services, self.settings)

    async def check_trust(self, trusted: bool | None, trusted_types: list[str] | None) -> None:
        """Trusting a version (loading formats that run code, or extra skops types) is a permission
        of its own, `mlws:models:trust` (RELIABILITY S1): registering is not enough. jupyter_server's
        default authorizer grants it to whoever holds the server's token (its owner); an
        authorizer of a shared server decides who else."""
        if not trusted and not trusted_types:
            return
        user = self.current_user
        allowed = bool(user) and await ensure_async(
            self.authorizer.is_authorized(self, user, "write", TRUST_RESOURCE)
        )
        if not allowed:
            raise Forbidden(
                "Trusting a model lets its code run when it is loaded; that needs the permission "
                f"'{TRUST_RESOURCE}' (write), which this user does not have. Register it untrusted, "
                "or ask the server's owner to trust it."
            )


class ModelListHandler(ModelsHandler):
    @route("List registered models", response=RegisteredModelList, errors=(403, 503), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.services.store.list_registered_models)
        self.write_model(RegisteredModelList(models=[RegisteredModelModel.of(m) for m in found]))

    @route(
        "Create a registered model (no versions yet)",
        body=CreateModel,
        response=RegisteredModelModel,
        status=201,
        errors=(400, 403, 409, 503),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(CreateModel)
        created = await self.change(self.registry.create_model, body.name, body.description, body.tags)
        self.write_model(RegisteredModelModel.of(created), status=201)


class ModelHandler(ModelsHandler):
    async def detail(self, name: str) -> RegisteredModelDetail:
        model, versions, served = await self.services.run(self.registry.model_detail, name)
        return RegisteredModelDetail(
            **model.to_dict(),
            versions=[VersionSummary.model_validate(v.to_dict()) for v in versions],
            served_by=served,
        )

    @route(
        "A registered model with its versions and aliases",
        response=RegisteredModelDetail,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def get(self, name: str) -> None:
        self.write_model(await self.detail(name))

    @route(
        "Change a model's description or tags",
        body=UpdateModel,
        response=RegisteredModelDetail,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str) -> None:
        await self.change(self.registry.update_model, name, **self.parse_changes(UpdateModel))
        self.write_model(await self.detail(name))

    @route(
        "Delete a model with all its versions and aliases (refused while an endpoint serves one)",
        status=204,
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def delete(self, name: str) -> None:
        await self.change(self.registry.delete_model, name)
        self.write_no_content()


class VersionListHandler(ModelsHandler):
    @route(
        "Versions of a model, newest first",
        response=ModelVersionList,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def get(self, name: str) -> None:
        found = await self.services.run(self.registry.versions, name)
        self.write_model(ModelVersionList(versions=[ModelVersionModel.of(v) for v in found]))

    @route(
        "Register a new version from a run's artifact, a file or folder under the server's root dir, "
        "or uploaded blobs",
        body=RegisterVersion,
        response=ModelVersionModel,
        status=201,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def post(self, name: str) -> None:
        body = self.parse_body(RegisterVersion)
        await self.check_trust(body.trusted, body.trusted_types)
        registered = await self.change(self.registry.register, name, **body.model_dump())
        self.write_model(ModelVersionModel.of(registered), status=201)


class VersionHandler(ModelsHandler):
    @route("One version of a model", response=ModelVersionModel, errors=(400, 403, 404, 503), tags=_TAGS)
    async def get(self, name: str, version: str) -> None:
        found = await self.services.run(self.registry.version, name, parse_version(version))
        self.write_model(ModelVersionModel.of(found))

    @route(
        "Change a version's description, tags or trust",
        body=UpdateVersion,
        response=ModelVersionModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str, version: str) -> None:
        number = parse_version(version)
        given = self.parse_changes(UpdateVersion)
        await self.check_trust(given.get("trusted"), given.get("trusted_types"))
        updated = await self.change(self.registry.update_version, name, number, **given)
        self.write_model(ModelVersionModel.of(updated))

    @route(
        "Delete a version and its aliases (refused while an endpoint serves it)",
        status=204,
        errors=(400, 403, 404, 409, 503),
        tags=_TAGS,
    )
    async def delete(self, name: str, version: str) -> None:
        await self.change(self.registry.delete_version, name, parse_version(version))
        self.write_no_content()


class AliasHandler(ModelsHandler):
    @route(
        "The version an alias points at", response=ModelVersionModel, errors=(400, 403, 404, 503), tags=_TAGS
    )
    async def get(self, name: str, alias: str) -> None:
        found = await self.services.run(self.registry.version_by_alias, name, alias)
        self.write_model(ModelVersionModel.of(found))

    @route(
        "Point an alias at a version (set or move it); answers that version",
        body=SetAlias,
        response=ModelVersionModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def put(self, name: str, alias: str) -> None:
        body = self.parse_body(SetAlias)
        moved = await self.change(self.registry.set_alias, name, alias, body.version)
        self.write_model(ModelVersionModel.of(moved))

    @route("Remove an alias", status=204, errors=(400, 403, 404, 503), tags=_TAGS)
    async def delete(self, name: str, alias: str) -> None:
        await self.change(self.registry.delete_alias, name, alias)
        self.write_no_content()
