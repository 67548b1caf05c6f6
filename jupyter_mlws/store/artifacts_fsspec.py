"""The artifact store on any fsspec filesystem (``memory://``, ``s3://``, ``gs://``, ``abfs://`` ...).

Who calls it: nobody directly; `open_artifact_store(url)` in `artifacts.py` picks it for every URL that
is not a local folder, and imports this module (and fsspec) only then.

Same layout and the same safe-path helper as the local store, but remote filesystems have no fsync
and no atomic rename, so the write protocol is the best equivalent:

1. stream the source in `CHUNK_SIZE` pieces into a temp object ``<folder>/.mlws-part-<random>`` next
   to the final name, computing sha256 and size on the way (object stores upload it in parts);
2. close it, which completes the upload, then ``fs.mv`` it onto the final name. On object stores a
   move is a server-side copy then a delete: the final object appears whole (an S3/GCS/Azure object
   is never visible half-written), but the move is not one atomic step, so a crash between copy and
   delete can leave the temp object behind;
3. on any failure the temp object is removed (best effort) and the error propagates.

Temp objects and checksum sidecars carry the reserved ``.mlws-`` prefix: `list` hides them and no user
path can name them. There are no symlinks on these filesystems, so the realpath check of the local
store has nothing to do here; the lexical checks of `safe_relative_path` are what protect the keys.
Blobs (``<root>/blobs/<sha[:2]>/<sha>``) are uploaded to a temp object the same way, then moved onto
their name only when no object holds it yet; an existing blob is never rewritten.
A sidecar is trusted only while the object's size and its modification stamp (ETag, mtime or creation
time, whichever the filesystem reports) are unchanged; otherwise the digest is recomputed by streaming.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import secrets
from typing import IO, Any

import fsspec

from ..errors import Conflict, InvalidParameter, NotFound
from .artifacts import (
    BLOBS_FOLDER,
    SUM_PREFIX,
    ArtifactInfo,
    ArtifactStore,
    blob_key,
    blob_mismatch,
    listable,
)
from .atomic_write import CHUNK_SIZE, TEMP_PREFIX, ByteReader, hash_stream, storage_error

_BLOB_LABEL = "snapshot blob"
_STAMP_KEYS = ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "updated", "created")


class FsspecArtifactStore(ArtifactStore):
    """Artifacts on a filesystem reached through fsspec, by URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise InvalidParameter(f"Artifact store URL {url!r} cannot be opened: {exc}") from None
        self._root = root.rstrip("/")

    def local_root(self) -> str | None:
        """The folder, when this URL is only fsspec's view of the local disk (then the local backend,
        with its realpath checks, fsync and atomic rename, is used instead); None otherwise."""
        from fsspec.implementations.local import LocalFileSystem

        return self._root if isinstance(self.fs, LocalFileSystem) else None

    def _base(self, run: str) -> str:
        return f"{self._root}/{run}/artifacts"

    def _key(self, run: str, rel: str) -> str:
        return f"{self._base(run)}/{rel}" if rel else self._base(run)

    def _write(self, run: str, rel: str, reader: ByteReader) -> tuple[int, str]:
        key = self._key(run, rel)
        if self.fs.isdir(key):
            raise Conflict(f"Cannot write artifact {rel!r}: a folder of that name exists.")
        folder, _, name = key.rpartition("/")
        tmp = f"{folder}/{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            size, hexdigest = self._upload_temp(folder, tmp, reader, rel)
            try:
                self.fs.mv(tmp, key)
            except OSError as exc:
                raise storage_error("committing", rel, exc) from exc
        except BaseException:
            self._remove_temp(tmp)
            raise
        with contextlib.suppress(Exception):  # best effort: without it `list` recomputes
            record = {"sha256": hexdigest, "size": size, "stamp": self._stamp(self.fs.info(key))}
            self.fs.pipe_file(f"{folder}/{SUM_PREFIX}{name}", json.dumps(record).encode())
        return size, hexdigest

    def _upload_temp(self, folder: str, tmp: str, reader: ByteReader, rel: str) -> tuple[int, str]:
        """Stream `reader` into the temp object `tmp` (hashing on the way) and complete its upload.

        The caller moves the temp object onto its final key, and removes it on any failure.
        """
        try:
            with contextlib.suppress(FileExistsError):
                self.fs.makedirs(folder, exist_ok=True)
            sink = self.fs.open(tmp, "wb")
        except (FileExistsError, NotADirectoryError):
            raise Conflict(
                f"Cannot write artifact {rel!r}: one of its folders already exists as a file."
            ) from None
        except OSError as exc:
            raise storage_error("writing", rel, exc) from exc
        digest = hashlib.sha256()
        size = 0
        try:
            while chunk := reader.read(CHUNK_SIZE):
                if not isinstance(chunk, bytes | bytearray | memoryview):
                    raise InvalidParameter(
                        f"Artifact {rel!r}: the source gave {type(chunk).__name__}, not bytes "
                        "(open it in 'rb' mode)."
                    )
                digest.update(chunk)
                size += len(chunk)
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise storage_error("writing", rel, exc) from exc
        except BaseException:
            _abandon(sink)
            raise
        try:
            sink.close()  # completes the upload of the temp object
        except OSError as exc:
            raise storage_error("committing", rel, exc) from exc
        return size, digest.hexdigest()

    def _remove_temp(self, tmp: str) -> None:
        with contextlib.suppress(Exception):
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)

    # -- blobs ------------------------------------------------------------------------------------

    def _blob_full_key(self, sha256: str) -> str:
        return f"{self._root}/{blob_key(sha256)}"

    def _put_blob(self, reader: ByteReader, expected: str | None) -> tuple[int, str]:
        folder = f"{self._root}/{BLOBS_FOLDER}"
        tmp = f"{folder}/{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            size, digest = self._upload_temp(folder, tmp, reader, _BLOB_LABEL)
            if expected is not None and digest != expected:
                raise InvalidParameter(blob_mismatch(digest, expected))
            key = self._blob_full_key(digest)
            try:
                if self._blob_size(digest) is None:
                    with contextlib.suppress(FileExistsError):
                        self.fs.makedirs(key.rpartition("/")[0], exist_ok=True)
                    self.fs.mv(tmp, key)
            except OSError as exc:
                raise storage_error("committing", _BLOB_LABEL, exc) from exc
        finally:
            self._remove_temp(tmp)  # gone already after a move; dropped when the blob existed
        return size, digest

    def _blob_size(self, sha256: str) -> int | None:
        try:
            info = self.fs.info(self._blob_full_key(sha256))
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        return int(info.get("size") or 0)

    def _open_blob(self, sha256: str) -> IO[bytes]:
        key = self._blob_full_key(sha256)
        if not self.fs.isfile(key):
            raise NotFound(f"The artifact store holds no blob {sha256}.")
        handle: IO[bytes] = self.fs.open(key, "rb")
        return handle

    def _open(self, run: str, rel: str) -> IO[bytes]:
        key = self._key(run, rel)
        if not self.fs.isfile(key):
            if self.fs.isdir(key):
                raise InvalidParameter(
                    f"Artifact {rel!r} is a folder, not a file: list or download it instead."
                )
            raise NotFound(f"Run {run!r} has no artifact {rel!r}.")
        handle: IO[bytes] = self.fs.open(key, "rb")
        return handle

    def _files(self, run: str, prefix: str) -> builtins.list[str]:
        base = self._base(run)
        start = self._key(run, prefix)
        if prefix and self.fs.isfile(start):
            return [prefix]
        if not self.fs.isdir(start):
            return []
        found = []
        for path in self.fs.find(start):
            path = self.fs._strip_protocol(path).rstrip("/")
            if path.startswith(base + "/"):
                found.append(path[len(base) + 1 :])
        return listable(found)

    def _info(self, run: str, rel: str) -> ArtifactInfo:
        key = self._key(run, rel)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            raise NotFound(f"Run {run!r} has no artifact {rel!r}.") from None
        size = int(info.get("size") or 0)
        digest = self._load_sum(key, size, self._stamp(info))
        if digest is None:
            with self._open(run, rel) as source:
                size, digest = hash_stream(source)
        return ArtifactInfo(path=rel, size=size, sha256=digest)

    def _delete(self, run: str, rel: str) -> None:
        key = self._key(run, rel)
        folder, _, name = key.rpartition("/")
        try:
            if self.fs.isfile(key):
                self.fs.rm_file(key)
                with contextlib.suppress(Exception):
                    self.fs.rm_file(f"{folder}/{SUM_PREFIX}{name}")
            elif self.fs.isdir(key):
                self.fs.rm(key, recursive=True)
            else:
                raise NotFound(f"Run {run!r} has no artifact {rel!r}.")
        except OSError as exc:
            raise storage_error("deleting", rel, exc) from exc

    @staticmethod
    def _stamp(info: dict[str, Any]) -> str:
        for name in _STAMP_KEYS:
            if info.get(name) is not None:
                return f"{name}={info[name]}"
        return ""

    def _load_sum(self, key: str, size: int, stamp: str) -> str | None:
        folder, _, name = key.rpartition("/")
        try:
            record = json.loads(self.fs.cat_file(f"{folder}/{SUM_PREFIX}{name}"))
        except Exception:
            return None
        if not isinstance(record, dict) or record.get("size") != size or record.get("stamp") != stamp:
            return None
        digest = record.get("sha256")
        return digest if isinstance(digest, str) and len(digest) == 64 else None


def _abandon(sink: Any) -> None:
    """Give up a half-written temp object: abort the upload where the filesystem can (s3fs aborts its
    multipart upload on `discard`), then close; whatever still reached the store is removed by the caller."""
    with contextlib.suppress(Exception):
        sink.discard()
    with contextlib.suppress(Exception):
        sink.close()
