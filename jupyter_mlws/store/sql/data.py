"""Data assets in the SQL store (issue 16): names, and versions that count up from 1.

`SqlDataMixin` is a base of `SqlStore`. A version row keeps the manifest of its files (JSON, like
a model version's) and its digest; the bytes are blobs of the artifact store (`models/files.py`
stores and reads them). `create_data_version` takes the next number of the asset (creating the
asset on its first version) in one transaction, as model versions do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import DataAsset, DataVersion, ModelFile
from ...errors import InvalidParameter, NotFound
from ...validation import validate_data_name
from ..base import now_ms
from .registry import _description, _files, _sha, _tags
from .schema import data_assets, data_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

_ATTEMPTS = 5


def _version(name: str, row: Any) -> DataVersion:
    files = tuple(ModelFile(f["path"], int(f["size"]), f["sha256"]) for f in json.loads(row.files))
    return DataVersion(
        name=name,
        version=int(row.version),
        files=files,
        sha256=row.sha256,
        size_bytes=int(row.size_bytes),
        source=row.source,
        description=row.description,
        tags=json.loads(row.tags),
        source_run_id=row.source_run_id,
        created_time=int(row.created_time),
    )


def _asset(row: Any) -> DataAsset:
    return DataAsset(
        name=row.name,
        latest_version=int(row.last_version),
        description=row.description,
        tags=json.loads(row.tags),
        created_time=int(row.created_time),
        updated_time=int(row.updated_time),
    )


class SqlDataMixin:
    """The data-asset part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

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
        validate_data_name(name)
        values = {
            "files": _files(files),
            "sha256": _sha(sha256, "sha256"),
            "size_bytes": int(size_bytes),
            "source": str(source or "")[:4000],
            "description": _description(description),
            "tags": _tags(tags),
            "source_run_id": source_run_id,
        }

        def work(conn: Connection) -> int:
            now = now_ms()
            asset = conn.execute(
                select(data_assets.c.id).where(data_assets.c.name == name).with_for_update()
            ).scalar()
            if asset is None:
                created = conn.execute(
                    insert(data_assets).values(
                        name=name,
                        description=values["description"],
                        tags=values["tags"],
                        last_version=0,
                        created_time=now,
                        updated_time=now,
                    )
                ).inserted_primary_key
                assert created is not None
                asset = created[0]
            last = conn.execute(select(data_assets.c.last_version).where(data_assets.c.id == asset)).scalar()
            number = int(last or 0) + 1
            conn.execute(
                insert(data_versions).values(asset=asset, version=number, created_time=now, **values)
            )
            conn.execute(
                update(data_assets)
                .where(data_assets.c.id == asset)
                .values(last_version=number, updated_time=now)
            )
            return number

        for attempt in range(_ATTEMPTS):
            try:
                number = self.write(work, "create_data_version")
                break
            except IntegrityError:  # another writer created the asset first (PostgreSQL): again
                if attempt == _ATTEMPTS - 1:
                    raise
        return self.get_data_version(name, int(number))

    def get_data_version(self, name: str, version: int | None = None) -> DataVersion:
        with self.reader.connect() as conn:
            asset = conn.execute(select(data_assets).where(data_assets.c.name == name)).first()
            if asset is None:
                raise NotFound(f"data asset {name!r} not found")
            number = int(asset.last_version) if version is None else version
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise InvalidParameter(f"a data version is a number >= 1, not {version!r}")
            row = conn.execute(
                select(data_versions).where(
                    data_versions.c.asset == asset.id, data_versions.c.version == number
                )
            ).first()
        if row is None:
            raise NotFound(f"data asset {name!r} has no version {number}")
        return _version(name, row)

    def list_data_assets(self) -> list[DataAsset]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(data_assets).order_by(data_assets.c.name)).fetchall()
        return [_asset(row) for row in rows]

    def list_data_versions(self, name: str) -> list[DataVersion]:
        with self.reader.connect() as conn:
            asset = conn.execute(select(data_assets.c.id).where(data_assets.c.name == name)).scalar()
            if asset is None:
                raise NotFound(f"data asset {name!r} not found")
            rows = conn.execute(
                select(data_versions).where(data_versions.c.asset == asset).order_by(data_versions.c.version)
            ).fetchall()
        return [_version(name, row) for row in rows]
