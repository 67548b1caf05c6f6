"""The model registry in the SQL store (schema v6): models, versions and aliases.

`SqlRegistryMixin` is a base of `SqlStore`. Who calls it: `ws.models`
(client/models.py), the server's registry routes and the endpoint manager (which
resolves aliases). The files of a version are not here: they are blobs of the
artifact store, named by the manifest kept in the row (models/files.py).

Decisions: a version number is the highest number the model ever gave + 1 (kept in
`models.last_version`: a deleted version's number is never given again, so `churn:3`
always means the same files), computed and inserted in one write transaction (the model
row is locked FOR UPDATE on PostgreSQL; SQLite serialises writers; a race to create the
model itself is retried). Registering a version of a name that does not exist creates the
model. Deleting a version deletes the aliases that point at it; deleting a model deletes
its versions and aliases (the blobs stay: other versions may share them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import ModelFile, ModelVersion, RegisteredModel
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...validation import (
    MODEL_FLAVORS,
    validate_alias,
    validate_model_name,
    validate_tag_value,
    validate_version,
)
from ..base import now_ms
from .schema import model_aliases, model_versions, models

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

_SHA = frozenset("0123456789abcdef")
_ATTEMPTS = 5


def _tags(tags: Mapping[str, Any] | None) -> str:
    if tags is None:
        return "{}"
    if not isinstance(tags, Mapping):
        raise InvalidParameter("tags must be a mapping of names to strings")
    checked = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise InvalidParameter(f"tag name {key!r} is not valid")
        checked[key] = validate_tag_value(key, value)
    return json.dumps(checked, sort_keys=True)


def _description(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > 20_000:
        raise InvalidParameter("description must be a string of at most 20,000 characters")
    return text


def _sha(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _SHA:
        raise InvalidParameter(f"{what} must be a lowercase sha256 hex digest")
    return value


def _files(files: Sequence[ModelFile]) -> str:
    if not files:
        raise InvalidParameter("a model version needs at least one file")
    seen = set()
    out = []
    for f in files:
        if not isinstance(f, ModelFile) or not isinstance(f.path, str) or not f.path or f.path in seen:
            raise InvalidParameter("model files must be distinct ModelFile(path, size, sha256)")
        seen.add(f.path)
        out.append({"path": f.path, "size": int(f.size), "sha256": _sha(f.sha256, f"sha256 of {f.path}")})
    return json.dumps(out)


class SqlRegistryMixin:
    """The model-registry part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    # ----- models ------------------------------------------------------------------------
    def _model_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(models).where(models.c.name == name)).first()
        if row is None:
            raise NotFound(f"model {name!r} not found")
        return row

    def _model(self, conn: Connection, row: Any) -> RegisteredModel:
        aliases = conn.execute(
            select(model_aliases.c.alias, model_aliases.c.version)
            .where(model_aliases.c.model == row.id)
            .order_by(model_aliases.c.alias)
        ).fetchall()
        latest = conn.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.model == row.id)
        ).scalar()
        return RegisteredModel(
            name=row.name,
            description=row.description,
            tags=json.loads(row.tags),
            aliases={a.alias: a.version for a in aliases},
            latest_version=latest,
            created_time=row.created_time,
            updated_time=row.updated_time,
        )

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        validate_model_name(name)
        now = now_ms()
        values = {"name": name, "description": _description(description), "tags": _tags(tags)}

        def work(conn: Connection) -> None:
            conn.execute(insert(models).values(**values, last_version=0, created_time=now, updated_time=now))

        try:
            self.write(work, "create_registered_model")
        except IntegrityError as err:
            raise AlreadyExists(f"model {name!r} already exists") from err
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.reader.connect() as conn:
            return self._model(conn, self._model_row(conn, name))

    def list_registered_models(self) -> list[RegisteredModel]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(models).order_by(models.c.name)).fetchall()
            return [self._model(conn, row) for row in rows]

    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        changes: dict[str, Any] = {"updated_time": now_ms()}
        if description is not None:
            changes["description"] = _description(description)
        if tags is not None:
            changes["tags"] = _tags(tags)

        def work(conn: Connection) -> None:
            row = self._model_row(conn, name)
            conn.execute(update(models).where(models.c.id == row.id).values(**changes))

        self.write(work, "update_registered_model")
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        validate_model_name(new_name)

        def work(conn: Connection) -> None:
            row = self._model_row(conn, name)
            conn.execute(
                update(models).where(models.c.id == row.id).values(name=new_name, updated_time=now_ms())
            )

        try:
            self.write(work, "rename_registered_model")
        except IntegrityError as err:
            raise AlreadyExists(f"model {new_name!r} already exists") from err
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        def work(conn: Connection) -> None:
            row = self._model_row(conn, name)
            conn.execute(delete(model_aliases).where(model_aliases.c.model == row.id))
            conn.execute(delete(model_versions).where(model_versions.c.model == row.id))
            conn.execute(delete(models).where(models.c.id == row.id))

        self.write(work, "delete_registered_model")

    # ----- versions ----------------------------------------------------------------------
    def _version(self, conn: Connection, name: str, row: Any) -> ModelVersion:
        aliases = conn.execute(
            select(model_aliases.c.alias)
            .where(model_aliases.c.model == row.model, model_aliases.c.version == row.version)
            .order_by(model_aliases.c.alias)
        ).scalars()
        return ModelVersion(
            name=name,
            version=row.version,
            flavor=row.flavor,
            files=tuple(ModelFile(f["path"], f["size"], f["sha256"]) for f in json.loads(row.files)),
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            signature=json.loads(row.signature) if row.signature else None,
            environment=json.loads(row.environment) if row.environment else {},
            source_run_id=row.source_run_id,
            source_path=row.source_path,
            trusted=bool(row.trusted),
            trusted_types=tuple(json.loads(row.trusted_types)),
            description=row.description,
            tags=json.loads(row.tags),
            aliases=tuple(aliases),
            created_time=row.created_time,
        )

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        model = self._model_row(conn, name)
        row = conn.execute(
            select(model_versions).where(
                model_versions.c.model == model.id, model_versions.c.version == version
            )
        ).first()
        if row is None:
            raise NotFound(f"model {name!r} has no version {version}")
        return row

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
        validate_model_name(name)
        if flavor not in MODEL_FLAVORS:
            raise InvalidParameter(f"unknown model flavor {flavor!r}: one of {', '.join(MODEL_FLAVORS)}")
        if not isinstance(trusted_types, (list, tuple)) or not all(isinstance(t, str) for t in trusted_types):
            raise InvalidParameter("trusted_types must be a list of type names")
        values = {
            "flavor": flavor,
            "files": _files(files),
            "sha256": _sha(sha256, "sha256"),
            "size_bytes": int(size_bytes),
            "signature": json.dumps(signature) if signature else None,
            "environment": json.dumps(dict(environment), default=str) if environment else None,
            "source_run_id": source_run_id,
            "source_path": source_path,
            "trusted": bool(trusted),
            "trusted_types": json.dumps(list(trusted_types)),
            "description": _description(description),
            "tags": _tags(tags),
        }

        def work(conn: Connection) -> int:
            now = now_ms()
            # FOR UPDATE: on PostgreSQL, registrations of one model take their numbers in turn
            # (SQLite serialises every writer anyway and ignores it).
            model = conn.execute(select(models.c.id).where(models.c.name == name).with_for_update()).scalar()
            if model is None:
                created = conn.execute(
                    insert(models).values(
                        name=name,
                        description="",
                        tags="{}",
                        last_version=0,
                        created_time=now,
                        updated_time=now,
                    )
                ).inserted_primary_key
                assert created is not None
                model = created[0]
            last = conn.execute(select(models.c.last_version).where(models.c.id == model)).scalar()
            number = int(last or 0) + 1
            conn.execute(
                insert(model_versions).values(model=model, version=number, created_time=now, **values)
            )
            conn.execute(
                update(models).where(models.c.id == model).values(last_version=number, updated_time=now)
            )
            return number

        for attempt in range(_ATTEMPTS):
            try:
                number = self.write(work, "create_model_version")
                break
            except IntegrityError:  # another writer created the model first (PostgreSQL): again
                if attempt == _ATTEMPTS - 1:
                    raise
        return self.get_model_version(name, int(number))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        validate_version(version)
        with self.reader.connect() as conn:
            return self._version(conn, name, self._version_row(conn, name, version))

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        with self.reader.connect() as conn:
            model = self._model_row(conn, name)
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.model == model.id)
                .order_by(model_versions.c.version.desc())
            ).fetchall()
            return [self._version(conn, name, row) for row in rows]

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
        validate_version(version)
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = _description(description)
        if tags is not None:
            changes["tags"] = _tags(tags)
        if trusted is not None:
            changes["trusted"] = bool(trusted)
        if trusted_types is not None:
            if not all(isinstance(t, str) for t in trusted_types):
                raise InvalidParameter("trusted_types must be a list of type names")
            changes["trusted_types"] = json.dumps(list(trusted_types))

        def work(conn: Connection) -> None:
            row = self._version_row(conn, name, version)
            if changes:
                conn.execute(update(model_versions).where(model_versions.c.id == row.id).values(**changes))

        self.write(work, "update_model_version")
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        validate_version(version)

        def work(conn: Connection) -> None:
            row = self._version_row(conn, name, version)
            conn.execute(
                delete(model_aliases).where(
                    model_aliases.c.model == row.model, model_aliases.c.version == version
                )
            )
            conn.execute(delete(model_versions).where(model_versions.c.id == row.id))

        self.write(work, "delete_model_version")

    # ----- aliases -----------------------------------------------------------------------
    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        validate_alias(alias)
        validate_version(version)

        def work(conn: Connection) -> None:
            row = self._version_row(conn, name, version)
            moved = conn.execute(
                update(model_aliases)
                .where(model_aliases.c.model == row.model, model_aliases.c.alias == alias)
                .values(version=version)
            ).rowcount
            if not moved:
                conn.execute(insert(model_aliases).values(model=row.model, alias=alias, version=version))
            conn.execute(update(models).where(models.c.id == row.model).values(updated_time=now_ms()))

        self.write(work, "set_model_alias")

    def delete_model_alias(self, name: str, alias: str) -> None:
        validate_alias(alias)

        def work(conn: Connection) -> None:
            model = self._model_row(conn, name)
            gone = conn.execute(
                delete(model_aliases).where(model_aliases.c.model == model.id, model_aliases.c.alias == alias)
            ).rowcount
            if not gone:
                raise NotFound(f"model {name!r} has no alias {alias!r}")

        self.write(work, "delete_model_alias")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_alias(alias)
        with self.reader.connect() as conn:
            model = self._model_row(conn, name)
            version = conn.execute(
                select(model_aliases.c.version).where(
                    model_aliases.c.model == model.id, model_aliases.c.alias == alias
                )
            ).scalar()
            if version is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            return self._version(conn, name, self._version_row(conn, name, int(version)))
