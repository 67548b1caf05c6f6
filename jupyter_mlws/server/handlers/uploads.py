"""The streamed-upload half of a handler: artifact files (`artifacts.py`) and blobs (`blobs.py`).

Who uses it: a handler whose `PUT` receives a file. It subclasses `StreamedUploadHandler`, says in
`begin_upload` where the bytes go (an `ArtifactUpload` from the artifact store), and in its `put`
calls `take_upload()` and then commits. Downloads share `stream_out`.

Decisions, and why:
- Memory stays bounded for any size: `data_received` gathers tornado's 64 KiB pieces into
  `CHUNK_SIZE` (1 MiB) blocks and awaits each block's write on the store pool, so tornado stops
  reading the socket while the disk catches up. Downloads read one block off the loop, write it
  and await `flush()` before reading the next.
- Nothing partial is ever visible: the bytes go to a hidden temp file (`ArtifactUpload`), hashed
  on the way, fsynced and renamed only when the whole body is in and matches the optional
  `X-MLWS-SHA256` header. A client that disconnects, a body over the limit, a checksum mismatch
  or a disk error removes the temp file (`on_connection_close` / `on_finish`).
- A streamed body reaches `data_received` before `put` and its decorators run, so `prepare`
  authorizes an upload itself (the same authorizer question `@authorized` asks) and validates
  names before the first byte touches the disk; `put` keeps its decorators for the route-table
  checks and asks again.
- Uploads may be up to `MAX_UPLOAD_BYTES` (8 GiB); the tornado setting `mlws_max_upload_bytes`
  (`ServerApp.tornado_settings`) overrides it. A larger `Content-Length` is a 413 before any byte
  is read; a chunked body is cut off with a 413 once it passes the limit.
- A stalled upload is not held open forever (RELIABILITY C7): when no byte of the body has come
  for `UPLOAD_IDLE_SECONDS` (60 s; the tornado setting `mlws_upload_idle_seconds`), the server
  closes the connection and removes the temp file, as for a client that went away. Tornado has
  no body timeout of its own here (jupyter_server sets none).
"""

from __future__ import annotations

import re
import time
from typing import IO, TYPE_CHECKING

from jupyter_core.utils import ensure_async
from tornado import web
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError

from ...errors import InvalidParameter
from ...store.atomic_write import CHUNK_SIZE
from .base import MLWSHandler

if TYPE_CHECKING:
    from ...store.artifacts import ArtifactUpload

#: Largest upload accepted unless the `mlws_max_upload_bytes` tornado setting says otherwise.
MAX_UPLOAD_BYTES = 8 * 1024**3
#: Seconds without a byte of an upload's body before the server gives up on it.
UPLOAD_IDLE_SECONDS = 60.0
#: Optional request header: the sha256 (hex) the uploaded bytes must have.
SHA256_HEADER = "X-MLWS-SHA256"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
#: Extra room given to tornado's own body limit, so that our check (which answers 413) fires first.
_TORNADO_SLACK = 64 * 1024 * 1024


class StreamedUploadHandler(MLWSHandler):
    """A handler whose PUT streams its body into an `ArtifactUpload` (see the module docstring)."""

    _upload: ArtifactUpload | None = None
    expected_sha256: str | None = None
    _client_gone = False

    async def begin_upload(self) -> ArtifactUpload:
        """Validate the request's names and open the upload (called once, before any byte)."""
        raise NotImplementedError

    async def prepare(self) -> None:  # type: ignore[override]
        self._pending = bytearray()
        uploading = self.request.method == "PUT"
        if uploading:
            self.max_body_size = self._upload_limit()
        await super().prepare()
        if self._finished or not uploading:
            return
        self.request.connection.set_max_body_size(self.max_body_size + _TORNADO_SLACK)  # type: ignore[union-attr]
        await self._authorize_upload()
        self.expected_sha256 = self._announced_sha256()
        self._upload = await self.begin_upload()
        self._last_byte = time.monotonic()
        self._watch_idle()

    def _watch_idle(self) -> None:
        """Close the connection of an upload whose body stopped coming (module docstring)."""
        if self._upload is None or self._finished or self._client_gone:
            return
        idle = float(self.settings.get("mlws_upload_idle_seconds", UPLOAD_IDLE_SECONDS))
        silent = time.monotonic() - self._last_byte
        if silent >= idle:
            self.log.warning(
                "mlws: upload %s stalled for %.0f s after %d bytes; closing it",
                self.request.path, silent, self._body_size,
            )
            self.request.connection.close()  # type: ignore[union-attr]
            self.on_connection_close()
            return
        IOLoop.current().call_later(idle - silent, self._watch_idle)

    async def data_received(self, chunk: bytes) -> None:  # type: ignore[override]
        """Gather the body into blocks and write each block off the loop (tornado waits for it)."""
        if self._upload is None or self._finished:
            return  # refused in prepare or already answered: the rest of the body is dropped
        self._last_byte = time.monotonic()
        try:
            self._body_size += len(chunk)
            self._check_body_size(self._body_size)
            self._pending += chunk
            if len(self._pending) >= CHUNK_SIZE:
                await self._write_pending()
        except Exception as exc:  # tornado cannot answer for an error in data_received: we must
            self._fail(exc)

    async def take_upload(self) -> ArtifactUpload | None:
        """In `put`: the complete upload, ready to commit (None when an answer was already sent).

        From here a disconnect no longer abandons the upload; the caller commits it."""
        if self._upload is None or self._finished:
            return None
        await self._write_pending()
        upload, self._upload = self._upload, None
        return upload

    async def stream_out(
        self, source: IO[bytes], block: bytes, size: int, content_type: str, disposition: str
    ) -> None:
        """Answer a download: the headers that keep it from being read as a page (type, disposition,
        nosniff, length), then `block` and the rest of `source`, one block at a time. The caller
        closes `source`."""
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", disposition)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Length", str(size))
        try:
            while block:
                self.write(block)
                await self.flush()
                block = await self.services.run(source.read, CHUNK_SIZE)
        except StreamClosedError:
            return  # the client went away mid-download; nothing to answer

    async def _write_pending(self) -> None:
        if self._pending and self._upload is not None:
            block, self._pending = self._pending, bytearray()
            await self.services.run(self._upload.write, block)

    def on_connection_close(self) -> None:
        """The client went away: an unfinished upload is abandoned and its temp file removed."""
        self._client_gone = True
        super().on_connection_close()
        self._abandon_upload()

    def on_finish(self) -> None:
        """Any answer other than success (refused, too large, bad checksum, disk error) leaves nothing."""
        self._abandon_upload()
        super().on_finish()

    def _abandon_upload(self) -> None:
        upload, self._upload = self._upload, None
        if upload is not None:
            self.services.spawn(self.services.run(upload.abort), "upload-cleanup")

    def _fail(self, exc: Exception) -> None:
        """Answer an error raised while the body streams in (tornado's handling would only drop it)."""
        self._abandon_upload()
        if self._client_gone or self._finished:
            return
        self.log_exception(type(exc), exc, exc.__traceback__)
        self.send_error(500, exc_info=(type(exc), exc, exc.__traceback__))

    async def _authorize_upload(self) -> None:
        """Ask the authorizer what `@authorized` on `put` will ask, before any byte is stored."""
        user = self.current_user
        allowed = bool(user) and await ensure_async(
            self.authorizer.is_authorized(self, user, "write", self.auth_resource)
        )
        if not allowed:
            raise web.HTTPError(403, f"User is not authorized to write on resource: {self.auth_resource}.")

    def _upload_limit(self) -> int:
        configured = self.settings.get("mlws_max_upload_bytes")
        if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
            return configured
        return MAX_UPLOAD_BYTES

    def _announced_sha256(self) -> str | None:
        value = self.request.headers.get(SHA256_HEADER)
        if value is None:
            return None
        if not _SHA256.fullmatch(value.strip()):
            raise InvalidParameter(f"{SHA256_HEADER} must be 64 hexadecimal digits (a SHA-256).")
        return value.strip().lower()
