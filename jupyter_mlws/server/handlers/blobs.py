"""`/mlws/api/v1/blobs/{sha256}`: the content-addressed store behind code snapshots and model files.

Who calls it: the REST artifact store (`store/rest_artifacts.py`) of a workspace opened on a
server URL — `%%mlrun` snapshots and `ws.models.register` / `load` from another process or machine.

- `HEAD` answers whether the blob is stored (and its `Content-Length`): a snapshot asks this for
  each file and uploads only what the server lacks, so an unchanged file costs one small request.
- `PUT` streams the body in (`uploads.py`); the bytes must hash to the digest in the URL, else
  400 and nothing is stored. Storing a digest that exists keeps the stored copy (idempotent:
  a retried PUT is harmless). 201 either way, with the size.
- `GET` streams the bytes out. Blobs are never rewritten or deleted through the API: a version
  or a snapshot that names a blob can always read it back.
- The name is a sha256 or 400 (`safe_blob_id`): nothing else reaches the disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ...errors import NotFound
from ...store.artifacts import safe_blob_id
from ...store.atomic_write import CHUNK_SIZE
from .base import route
from .uploads import StreamedUploadHandler

if TYPE_CHECKING:
    from ...store.artifacts import ArtifactUpload

_TAGS = ("artifacts",)


class BlobInfo(BaseModel):
    sha256: str = Field(description="The blob's sha256 (its name).")
    size: int = Field(description="Size in bytes.")


class BlobHandler(StreamedUploadHandler):
    auth_resource = "mlws:artifacts"

    async def begin_upload(self) -> ArtifactUpload:
        sha256 = safe_blob_id(self.path_kwargs["sha256"])
        upload: ArtifactUpload = await self.services.run(self.services.artifacts.begin_blob_upload, sha256)
        return upload

    async def _size(self, sha256: str) -> int:
        size = await self.services.run(self.services.artifacts.blob_size, sha256)
        if size is None:
            raise NotFound(f"No blob {sha256} is stored.")
        return int(size)

    @route("Whether a blob is stored (Content-Length: its size)", errors=(400, 403, 404), tags=_TAGS)
    async def head(self, sha256: str) -> None:
        self.set_header("Content-Length", str(await self._size(sha256)))
        self.set_header("Content-Type", "application/octet-stream")
        self.finish()

    @route(
        "Download a blob (streamed)",
        raw_response="application/octet-stream",
        errors=(400, 403, 404),
        tags=_TAGS,
    )
    async def get(self, sha256: str) -> None:
        source = await self.services.run(self.services.artifacts.open_blob, safe_blob_id(sha256))
        try:
            size = await self._size(sha256)
            self.set_header("ETag", f'"{sha256}"')
            block = await self.services.run(source.read, CHUNK_SIZE)
            await self.stream_out(
                source, block, size, "application/octet-stream", f'attachment; filename="{sha256}"'
            )
        finally:
            await self.services.run(source.close)

    @route(
        "Upload a blob (streamed; its bytes must hash to the sha256 in the URL)",
        raw_body="application/octet-stream",
        response=BlobInfo,
        status=201,
        errors=(400, 403, 413),
        tags=_TAGS,
    )
    async def put(self, sha256: str) -> None:
        upload = await self.take_upload()
        if upload is None:
            return
        info = await self.services.run(upload.commit, self.expected_sha256 or sha256)
        self.write_model(BlobInfo(sha256=info.sha256, size=info.size), status=201)
