"""The `artifacts` table of the SQL store: which files a run has, with size and sha256.

Called by `SqlStore.record_artifact / list_artifacts / delete_artifact_record`,
which the client calls right after the artifact store wrote or deleted the
bytes. Paths arrive already validated by the artifact store's safe-path
helper; here they are only stored and matched (a prefix matches the path
itself or anything below `prefix/`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ...entities import ArtifactRecord
from ...errors import InvalidParameter
from ..base import now_ms
from .metrics import upsert
from .schema import artifacts

if TYPE_CHECKING:
    from .store import SqlStore


def record(store: SqlStore, run_id: str, artifact: ArtifactRecord) -> None:
    """Insert or replace the record of one artifact."""
    pk = store.run_pk(run_id)
    path = str(artifact.path)
    if not path or len(path) > 1024:
        raise InvalidParameter("An artifact path has 1 to 1024 characters.")
    row = {
        "run": pk,
        "path": path,
        "size": int(artifact.size),
        "sha256": str(artifact.sha256),
        "created_time": now_ms(),
    }
    store.write(
        lambda conn: upsert(conn, artifacts, [row], ("run", "path"), ("size", "sha256", "created_time")),
        "record_artifact",
    )


def listing(store: SqlStore, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
    """The records of a run under `prefix`, sorted by path."""
    pk = store.run_pk(run_id)
    query = select(artifacts.c.path, artifacts.c.size, artifacts.c.sha256).where(artifacts.c.run == pk)
    if prefix:
        base = prefix.rstrip("/")
        query = query.where(
            (artifacts.c.path == base) | (func.substr(artifacts.c.path, 1, len(base) + 1) == base + "/")
        )
    with store.reader.connect() as conn:
        rows = conn.execute(query.order_by(artifacts.c.path)).fetchall()
    return [ArtifactRecord(p, int(s), h) for p, s, h in rows]


def delete(store: SqlStore, run_id: str, path: str) -> None:
    """Forget one record."""
    pk = store.run_pk(run_id)
    store.write(
        lambda conn: conn.execute(artifacts.delete().where(artifacts.c.run == pk, artifacts.c.path == path)),
        "delete_artifact",
    )
