"""Artifact routes: list, streamed download, streamed upload and delete of a run's files.

`/mlws/api/v1/runs/{run_id}/artifacts` lists what the metadata store recorded (path, size,
sha256), optionally under `?prefix=`; `/mlws/api/v1/runs/{run_id}/artifacts/{path}` is one file:
GET streams it, PUT stores a new version of it, DELETE removes it (or a whole folder).
Who calls them: the JupyterLab panel (listing, download links, image previews with `?inline=1`),
the REST store of remote clients (a Dask worker's `log_artifact`), and scripts (`curl -T`).

Decisions, and why:

- Memory stays bounded for any size (issue 4: a 1 GB upload or download grows the server's RSS by
  far less than 100 MB). Uploads arrive through `stream_request_body`: `data_received` gathers
  tornado's 64 KiB pieces into `CHUNK_SIZE` (1 MiB) blocks and awaits each block's write on the
  store pool, so tornado stops reading the socket while the disk catches up. Downloads read one
  block off the loop, write it and await `flush()` before reading the next.
- Nothing partial is ever visible: the bytes go to a hidden temp file in the run's artifact folder
  (`ArtifactStore.begin_upload`), hashed on the way, fsynced and atomically renamed only when the
  whole body is in and matches the optional `X-MLWS-SHA256` header; only then is the artifact
  recorded in the metadata store. A client that disconnects, a body over the limit, a checksum
  mismatch or a disk error removes the temp file (`on_connection_close` / `on_finish`).
- A streamed body reaches `data_received` before `put` and its decorators run, so `prepare`
  authorizes an upload itself (the same authorizer question `@authorized` asks) and validates the
  run and path before the first byte touches the disk; `put` keeps its decorators for the
  route-table checks and asks again.
- Uploads may be up to `MAX_UPLOAD_BYTES` (8 GiB); the tornado setting `mlws_max_upload_bytes`
  (`ServerApp.tornado_settings`) overrides it. A larger `Content-Length` is a 413 before any byte
  is read; a chunked body is cut off with a 413 once it passes the limit.
- Downloads are `application/octet-stream` with `Content-Disposition: attachment`, never user
  content served as HTML (RELIABILITY A9). With `?inline=1`, a file whose first bytes are a PNG,
  JPEG, GIF or WebP signature is served inline with that image type, for the panel's previews;
  the type comes from the bytes, never from the name or the uploader (an SVG, which can carry
  script, is always an attachment). `ETag` is the recorded sha256, so `If-None-Match` gives 304.
- The metadata store is what exists: a file on disk without a record is not listed or served.
  Writes go bytes first, then record; deletes go record first, then bytes, so a record never
  points at missing bytes (RELIABILITY K6).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from ...entities import ArtifactRecord
from ...errors import InvalidParameter, NotFound
from ...paths import safe_prefix, safe_relative_path, safe_run_id
from ...store.atomic_write import CHUNK_SIZE
from .base import MLWSHandler, route
from .uploads import StreamedUploadHandler

if TYPE_CHECKING:
    from ...store.artifacts import ArtifactStore, ArtifactUpload
    from ...store.base import MetadataStore

_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")
#: One lock per run, held while an upload is committed and recorded and while a delete runs, so the
#: record always describes the bytes on disk: two PUTs of one path, or a PUT and a DELETE, cannot
#: interleave their "bytes" and "record" steps. (Streaming the body is not under the lock.)
_RUN_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _run_lock(run: str) -> asyncio.Lock:
    lock = _RUN_LOCKS.get(run)
    if lock is None:
        lock = _RUN_LOCKS[run] = asyncio.Lock()
    return lock


class ArtifactInfo(BaseModel):
    """One recorded artifact."""

    path: str = Field(description="Path inside the run's artifacts, '/'-separated.")
    size: int = Field(description="Size in bytes.")
    sha256: str = Field(description="SHA-256 of the bytes, lowercase hex.")


class ArtifactList(BaseModel):
    """The answer of `GET /runs/{run_id}/artifacts`."""

    run_id: str
    prefix: str = Field(description="The folder listed ('' = the whole run), as normalised.")
    artifacts: list[ArtifactInfo] = Field(description="Sorted by path.")


class ArtifactListQuery(BaseModel):
    prefix: str = Field("", description="List only this file or the files under this folder.")


class ArtifactDownloadQuery(BaseModel):
    inline: bool = Field(
        False,
        description="Serve PNG, JPEG, GIF and WebP images inline (for previews); others stay attachments.",
    )


class ArtifactListHandler(MLWSHandler):
    auth_resource = "mlws:artifacts"

    def _raw_query(self, name: str) -> str:
        """A query argument exactly as sent (tornado's getters turn control characters into spaces,
        which would hide them from the safe-path helper)."""
        values = self.request.query_arguments.get(name)
        return self.decode_argument(values[-1], name=name) if values else ""

    @route(
        "List a run's recorded artifacts", query=ArtifactListQuery, response=ArtifactList, tags=("artifacts",)
    )
    async def get(self, run_id: str) -> None:
        run = safe_run_id(run_id)
        prefix = safe_prefix(self._raw_query("prefix"))
        records = await self.services.run(self.services.store.list_artifacts, run, prefix)
        self.write_model(
            ArtifactList(
                run_id=run,
                prefix=prefix,
                artifacts=[ArtifactInfo(path=r.path, size=r.size, sha256=r.sha256) for r in records],
            )
        )


class ArtifactHandler(StreamedUploadHandler):
    """One artifact file: streamed GET, streamed PUT, DELETE."""

    auth_resource = "mlws:artifacts"

    async def begin_upload(self) -> ArtifactUpload:
        run = safe_run_id(self.path_kwargs["run_id"])
        rel = safe_relative_path(self.path_kwargs["path"])
        await self.services.run(self.services.store.get_run_info, run)  # 404 before any byte is read
        upload: ArtifactUpload = await self.services.run(self.services.artifacts.begin_upload, run, rel)
        return upload

    # ----- download ----------------------------------------------------------------------------

    @route(
        "Download an artifact (streamed)",
        query=ArtifactDownloadQuery,
        raw_response="application/octet-stream",
        tags=("artifacts",),
    )
    async def get(self, run_id: str, path: str) -> None:
        run, rel = safe_run_id(run_id), safe_relative_path(path)
        inline = self._flag("inline")
        source = await self.services.run(self.services.artifacts.open, run, rel)
        try:
            record = await self.services.run(_recorded, self.services.store, run, rel)
            size = await self.services.run(_size_of, source)
            block = await self.services.run(source.read, CHUNK_SIZE)
            self.set_header("ETag", f'"{record.sha256}"')
            self.set_header("Cache-Control", "private, no-cache")
            if self.check_etag_header():
                self.set_status(304)
                return
            image = _image_type(block) if inline else None
            disposition = _disposition("inline" if image else "attachment", rel)
            await self.stream_out(source, block, size, image or "application/octet-stream", disposition)
        finally:
            await self.services.run(source.close)

    # ----- upload ------------------------------------------------------------------------------

    @route(
        "Upload an artifact (streamed; atomic; optional X-MLWS-SHA256 check)",
        raw_body="application/octet-stream",
        response=ArtifactInfo,
        status=201,
        errors=(400, 403, 404, 409, 413),
        tags=("artifacts",),
    )
    async def put(self, run_id: str, path: str) -> None:
        upload = await self.take_upload()
        if upload is None:
            return  # already answered from data_received (too large, storage error)
        run = safe_run_id(run_id)
        async with _run_lock(run):
            info = await self.services.run(upload.commit, self.expected_sha256)
            record = ArtifactRecord(path=info.path, size=info.size, sha256=info.sha256)
            await self.services.run(self.services.store.record_artifact, run, record)
        self.set_header("ETag", f'"{info.sha256}"')
        self.set_header("Location", self.request.path)
        self.write_model(ArtifactInfo(path=info.path, size=info.size, sha256=info.sha256), status=201)

    def _flag(self, name: str) -> bool:
        raw = (self.get_query_argument(name, "") or "").strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise InvalidParameter(f"{name} must be 1 or 0 (true or false).")

    # ----- delete ------------------------------------------------------------------------------

    @route("Delete an artifact (or every artifact under a folder)", status=204, tags=("artifacts",))
    async def delete(self, run_id: str, path: str) -> None:
        run, rel = safe_run_id(run_id), safe_relative_path(path)
        async with _run_lock(run):
            await self.services.run(_delete, self.services.store, self.services.artifacts, run, rel)
        self.set_status(204)
        self.finish()


def _recorded(store: MetadataStore, run: str, rel: str) -> ArtifactRecord:
    """The metadata record of one file, or NotFound (also for a folder, which has no record)."""
    for record in store.list_artifacts(run, rel):
        if record.path == rel:
            return record
    raise NotFound(f"Run {run!r} has no artifact {rel!r}.")


def _delete(store: MetadataStore, artifacts: ArtifactStore, run: str, rel: str) -> None:
    """Records first, then bytes: a record never points at bytes that are gone."""
    records = store.list_artifacts(run, rel)
    for record in records:
        store.delete_artifact_record(run, record.path)
    try:
        artifacts.delete(run, rel)
    except NotFound:
        if not records:
            raise


def _size_of(source: Any) -> int:
    """Byte size of an open artifact (local file or fsspec file), leaving it at the start."""
    size = int(source.seek(0, 2))
    source.seek(0)
    return size


def _image_type(head: bytes) -> str | None:
    """The image type announced by a file's first bytes, for the inline allow-list; else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _disposition(kind: str, rel: str) -> str:
    """`attachment`/`inline` with the file's name: an ASCII fallback plus the exact UTF-8 name."""
    name = rel.rsplit("/", 1)[-1]
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;%' else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
