"""The artifact store over HTTP: a run's files and the content-addressed blobs, through the server.

Who calls it: a `Workspace` opened on a server URL (`mlws.Workspace("http://host:8888/")`,
`MLWS_WORKSPACE=<url>`) uses it as its `artifact_store`, so `log_artifact`, `log_text`,
`download_artifacts`, `run.logs()`, code snapshots and `ws.models` work there as on a folder.
It shares the REST store's `HttpClient` (one token, kept-alive connections, retries).

Decisions:
- Uploads stream (`PUT /runs/{id}/artifacts/{path}`, `PUT /blobs/{sha256}`), never read whole into
  memory. The bytes are hashed first, and the digest travels as `X-MLWS-SHA256`: the server stores
  nothing unless what arrived hashes to it, so a retried or cut upload can never leave a file
  whose digest is wrong. A source that cannot be rewound (a pipe) is first copied to a private
  temp file, so a retry resends the same bytes.
- Downloads stream into a `SpooledTemporaryFile` (memory up to `SPOOL_BYTES`, then disk), which
  `open` hands back rewound: large files never sit in memory.
- The server records an artifact when its upload completes; the REST store's `record_artifact`
  is told of each upload made here (`_uploaded`), so recording costs no second request.
- Writes on the server side (staging, fsync, atomic rename) are the server's artifact store's:
  this class validates names with the same helpers (`paths.py`) before anything is sent.
"""

from __future__ import annotations

import builtins
import hashlib
import tempfile
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import InvalidParameter, NotFound
from ..http import path_segment
from .artifacts import ArtifactInfo, ArtifactStore, ArtifactUpload, blob_mismatch, safe_blob_id
from .atomic_write import CHUNK_SIZE, ByteReader

if TYPE_CHECKING:
    from .rest import RestStore

API = "/mlws/api/v1"
SHA256_HEADER = "X-MLWS-SHA256"
#: Downloads up to this size stay in memory; larger ones go to a temp file.
SPOOL_BYTES = 8 * 1024 * 1024


class RestArtifactStore(ArtifactStore):
    """`ArtifactStore` backed by a jupyter_mlws server (see the module docstring)."""

    def __init__(self, store: RestStore) -> None:
        self.url = store.url
        self.http = store.http
        self._store = store

    # ----- runs' files ---------------------------------------------------------------------------
    def _file_url(self, run: str, rel: str) -> str:
        return f"{API}/runs/{path_segment(run)}/artifacts/{quote(rel, safe='/')}"

    def _write(self, run: str, rel: str, reader: ByteReader) -> tuple[int, str]:
        with _rewindable(reader) as (source, size, digest):
            answer = self.http.json(
                "PUT",
                self._file_url(run, rel),
                body=source,
                headers={SHA256_HEADER: digest, "Content-Type": "application/octet-stream"},
            )
        if answer["sha256"] != digest or answer["size"] != size:
            raise InvalidParameter(f"The server stored {rel!r} with other bytes than were sent.")
        self._store.uploaded(run, rel, digest)
        return size, digest

    def _open(self, run: str, rel: str) -> IO[bytes]:
        return self._download(self._file_url(run, rel))

    def list(self, run_id: str, prefix: str = "") -> builtins.list[ArtifactInfo]:
        """One request for the whole listing (the base class would ask once per file)."""
        return [
            ArtifactInfo(path=r.path, size=r.size, sha256=r.sha256)
            for r in self._store.list_artifacts(run_id, prefix)
        ]

    def _files(self, run: str, prefix: str) -> builtins.list[str]:
        return [r.path for r in self._store.list_artifacts(run, prefix)]

    def _info(self, run: str, rel: str) -> ArtifactInfo:
        for record in self._store.list_artifacts(run, rel):
            if record.path == rel:
                return ArtifactInfo(path=record.path, size=record.size, sha256=record.sha256)
        raise NotFound(f"Run {run!r} has no artifact {rel!r}.")

    def _delete(self, run: str, rel: str) -> None:
        self.http.request("DELETE", self._file_url(run, rel))

    def _begin_upload(self, run: str, rel: str) -> ArtifactUpload:
        raise InvalidParameter(
            "A workspace URL takes uploads through log_artifact / put_file; begin_upload is the server's."
        )

    # ----- blobs ---------------------------------------------------------------------------------
    def _blob_url(self, sha256: str) -> str:
        return f"{API}/blobs/{sha256}"

    def _put_blob(self, reader: ByteReader, expected: str | None) -> tuple[int, str]:
        with _rewindable(reader) as (source, size, digest):
            if expected is not None and digest != expected:
                raise InvalidParameter(blob_mismatch(digest, expected))
            self.http.json(
                "PUT",
                self._blob_url(digest),
                body=source,
                headers={SHA256_HEADER: digest, "Content-Type": "application/octet-stream"},
            )
        return size, digest

    def _blob_size(self, sha256: str) -> int | None:
        try:
            response = self.http.request("HEAD", self._blob_url(sha256))
        except NotFound:
            return None
        return int(response.headers.get("Content-Length", "0"))

    def _open_blob(self, sha256: str) -> IO[bytes]:
        return self._download(self._blob_url(safe_blob_id(sha256)))

    # ----- helpers -------------------------------------------------------------------------------
    def _download(self, path: str) -> IO[bytes]:
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            self.http.request("GET", path, stream_to=spool, headers={"Accept": "application/octet-stream"})
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool


class _rewindable:
    """`with _rewindable(reader) as (source, size, sha256)`: a seekable source at its start.

    A file object that can seek is hashed in place and rewound; anything else is copied into a
    private temp file while it is hashed (removed on exit).
    """

    def __init__(self, reader: ByteReader) -> None:
        self._reader = reader
        self._temp: Any = None

    def __enter__(self) -> tuple[Any, int, str]:
        reader: Any = self._reader
        digest, size = hashlib.sha256(), 0
        start = _tell(reader)
        if start is not None:
            while chunk := reader.read(CHUNK_SIZE):
                digest.update(_bytes(chunk))
                size += len(chunk)
            reader.seek(start)
            return reader, size, digest.hexdigest()
        self._temp = tempfile.TemporaryFile(prefix="mlws-upload-")
        while chunk := reader.read(CHUNK_SIZE):
            digest.update(_bytes(chunk))
            self._temp.write(chunk)
            size += len(chunk)
        self._temp.seek(0)
        return self._temp, size, digest.hexdigest()

    def __exit__(self, *exc: object) -> None:
        if self._temp is not None:
            self._temp.close()


def _tell(reader: Any) -> int | None:
    try:
        if hasattr(reader, "seekable") and not reader.seekable():
            return None
        return int(reader.tell())
    except (AttributeError, OSError, ValueError):
        return None


def _bytes(chunk: Any) -> bytes | bytearray | memoryview:
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise InvalidParameter(
            f"An upload's source gave {type(chunk).__name__}, not bytes (open it in 'rb' mode)."
        )
    return chunk
