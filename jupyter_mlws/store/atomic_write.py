"""Streaming, checksummed, atomic writes of local files (RELIABILITY design rule: temp, fsync, rename).

Who calls it: the local artifact store for every put, `ArtifactStore.download` for every file it
writes to a user's folder, and the bundle extractor for every member; `StagedFile` is the same
write for chunks pushed by the server's streamed upload (`ArtifactStore.begin_upload`). One
implementation, so every local file this package writes from a stream has the same guarantees:

- the source is read in `CHUNK_SIZE` pieces (never whole into memory), sha256 and size computed on the
  way;
- the bytes go to ``<folder>/.mlws-part-<random>`` (created with ``O_EXCL``, so never someone else's
  file or link), are fsynced, then ``os.replace``d onto the final name, and the folder is fsynced;
- any failure (the reader raising, EIO, ENOSPC, KeyboardInterrupt) removes the temp file; the final
  name then still holds its previous content, or nothing. Storage errors surface as `Unavailable`
  (with the OSError as ``__cause__``); the reader's own exceptions propagate unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import threading
from pathlib import Path
from typing import Protocol

from ..errors import Conflict, InvalidParameter, Unavailable
from ..paths import RESERVED_PREFIX

#: Bytes read and written per step when streaming: large enough for throughput, small for memory.
CHUNK_SIZE = 1024 * 1024
#: Name prefix of in-flight temp files (hidden from listings, refused as user paths).
TEMP_PREFIX = RESERVED_PREFIX + "part-"
#: How temp files are created: a fresh name only (never someone else's file or link).
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_TEMP_FLAGS |= getattr(os, "O_NOFOLLOW", 0)


class ByteReader(Protocol):
    """Anything with a binary `read(size)`: an open file, a socket file, a request body stream."""

    def read(self, size: int = ..., /) -> bytes: ...


def hash_stream(reader: ByteReader) -> tuple[int, str]:
    """Size and sha256 of a stream, read in chunks (for files whose sidecar is missing or stale)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := reader.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def storage_error(action: str, rel: str, exc: OSError) -> Unavailable:
    """The error a caller sees when the disk or object store fails under us (EIO, ENOSPC, ...)."""
    return Unavailable(f"Storage failed while {action} artifact {rel!r}: {exc}. Nothing was stored.")


def write_local_atomic(target: Path, reader: ByteReader, rel: str) -> tuple[int, str]:
    """Stream `reader` into `target` via temp file + fsync + rename; return (size, sha256 hex).

    `target` must come from `resolve_under(..., follow_final_link=False)`. Used by the local store's
    writes and by every `download`. On any failure the temp file is removed and the exception (an
    `Unavailable` for storage errors, the reader's own exception otherwise) propagates.
    """
    parent = target.parent
    _ready_target(target, rel)
    tmp = parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    try:
        fd = os.open(tmp, _TEMP_FLAGS, 0o666)
    except OSError as exc:
        raise storage_error("writing", rel, exc) from exc
    digest = hashlib.sha256()
    size = 0
    try:
        while True:
            chunk = reader.read(CHUNK_SIZE)
            if not chunk:
                break
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise InvalidParameter(
                    f"Artifact {rel!r}: the source gave {type(chunk).__name__}, not bytes "
                    "(open it in 'rb' mode)."
                )
            digest.update(chunk)
            size += len(chunk)
            _write_all(fd, memoryview(chunk), rel)
        try:
            os.fsync(fd)
        except OSError as exc:
            raise storage_error("writing", rel, exc) from exc
        os.close(fd)
        fd = -1
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise storage_error("writing", rel, exc) from exc
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(parent, rel)
    return size, digest.hexdigest()


def _ready_target(target: Path, rel: str) -> None:
    """Create the target's folders; refuse when a file blocks a folder or a folder holds the name."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise Conflict(
            f"Cannot write artifact {rel!r}: one of its folders already exists as a file."
        ) from None
    except OSError as exc:
        raise storage_error("writing", rel, exc) from exc
    if target.is_dir() and not target.is_symlink():
        raise Conflict(f"Cannot write artifact {rel!r}: a folder of that name exists.")


class StagedFile:
    """A temp file that receives pushed chunks and becomes a visible file only on `commit`.

    The push form of `write_local_atomic`, for sources that hand over chunks as they arrive instead
    of being read: the server's streamed artifact upload, through `ArtifactStore.begin_upload`. Same
    guarantees: sha256 and size computed on the way, fsync, atomic `os.replace`, folder fsync; an
    `abort`, or any failed `commit` (checksum mismatch, EIO, ENOSPC), removes the temp file.

    The temp file is created (``O_EXCL``) in `folder`, which must be on the same filesystem as the
    final target; the target itself is named only at `commit`, so an upload that never completes
    creates no folders. Methods are serialised by a lock because the upload handler writes from pool
    threads while a client disconnect may abort from another.
    """

    def __init__(self, folder: Path, rel: str) -> None:
        self.rel = rel
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
            self._fd = os.open(self.path, _TEMP_FLAGS, 0o666)
        except OSError as exc:
            raise storage_error("writing", rel, exc) from exc
        self._lock = threading.Lock()
        self._digest = hashlib.sha256()
        self._finished = False
        self.size = 0

    @property
    def active(self) -> bool:
        """False once committed or abandoned."""
        return not self._finished

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append `data`; after an abort this raises `Conflict` (the upload is gone)."""
        with self._lock:
            self._check_open()
            try:
                self._digest.update(data)
                self.size += len(data)
                _write_all(self._fd, memoryview(data), self.rel)
            except BaseException:
                self._discard()
                raise

    def digest(self) -> str:
        """The sha256 (hex) of what was written so far."""
        with self._lock:
            return self._digest.hexdigest()

    def commit(self, target: Path, expected_sha256: str | None = None) -> tuple[int, str]:
        """Verify the digest, fsync and rename onto `target`; return (size, sha256 hex).

        `target` must come from `resolve_under(..., follow_final_link=False)`, resolved now (not when
        the upload began) so a symlink planted meanwhile is caught. A mismatch with `expected_sha256`
        is `InvalidParameter` and nothing is stored.
        """
        with self._lock:
            self._check_open()
            try:
                digest = self._digest.hexdigest()
                if expected_sha256 is not None and expected_sha256.lower() != digest:
                    raise InvalidParameter(
                        f"Artifact {self.rel!r}: the received bytes have sha256 {digest}, not the "
                        f"{expected_sha256.lower()} the client announced; nothing was stored."
                    )
                _ready_target(target, self.rel)
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    raise storage_error("writing", self.rel, exc) from exc
                os.close(self._fd)
                self._fd = -1
                try:
                    os.replace(self.path, target)
                except OSError as exc:
                    raise storage_error("writing", self.rel, exc) from exc
            except BaseException:
                self._discard()
                raise
            self._finished = True
        _fsync_folder(target.parent, self.rel)
        return self.size, digest

    def abort(self) -> None:
        """Remove the temp file; safe to call at any time, any number of times."""
        with self._lock:
            if not self._finished:
                self._discard()

    def _check_open(self) -> None:
        if self._finished:
            raise Conflict(f"The upload of artifact {self.rel!r} was already finished or abandoned.")

    def _discard(self) -> None:
        self._finished = True
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _write_all(fd: int, data: memoryview, rel: str) -> None:
    """os.write until every byte is out (it may write less than asked)."""
    while data:
        try:
            written = os.write(fd, data)
        except OSError as exc:
            raise storage_error("writing", rel, exc) from exc
        data = data[written:]


def _fsync_folder(folder: Path, rel: str) -> None:
    """Make the rename durable; filesystems that cannot fsync a folder are tolerated."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise storage_error("committing", rel, exc) from exc
    finally:
        os.close(fd)
