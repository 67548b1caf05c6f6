"""The artifact store: the files of each run (models, tables, figures, logs), with size and sha256.

Who calls it: the Python client (`log_artifact`, `run.artifacts()`, `download_artifacts`), the server's
artifact routes and the model registry. It is imported lazily by them, never by
`jupyter_mlws/__init__.py`, because it pulls in fsspec for remote URLs.

Layout: the files of run R live under ``<root>/<R>/artifacts/<path>``. Run ids are checked
(`paths.safe_run_id`) and every artifact path goes through the one safe-path helper (`jupyter_mlws/paths.py`).

Two backends behind one interface, chosen by `open_artifact_store(url)`:

- a local folder (a plain path or a ``file://`` URL): plain os/pathlib. A write streams the source in
  `CHUNK_SIZE` pieces into a temp file in the destination folder (``.mlws-part-*``, created with
  ``O_EXCL``) while computing sha256 and size, fsyncs it, atomically renames it onto the final name
  and fsyncs the folder. A failed or aborted write (reader error, EIO, ENOSPC, KeyboardInterrupt)
  removes the temp file, so no partial artifact is ever visible; a crash (kill -9) can leave a
  ``.mlws-part-*`` file, which `list` never shows and a user path can never name.
  Reads use the realpath (checked to stay under the root) opened with ``O_NOFOLLOW``.
- any other fsspec URL (``memory://``, ``s3://``, ``gs://``, ``abfs://`` ...): see
  `artifacts_fsspec.py`; the same temp-then-move idea, with the weaker guarantees a remote store gives.

Blobs: code snapshots (`client/snapshot.py`) store file contents once, by content, under
``<root>/blobs/<sha[:2]>/<sha256>`` (`put_blob`, `has_blob`, `open_blob`). ``blobs`` is not a valid run
id (`paths.safe_run_id` accepts hex digits and '-' only), so no run route can name that folder. A blob
is staged and hashed like any artifact, then moved onto its name only when no blob of that digest
exists yet: storing an unchanged file again costs a read and nothing more. Blobs are never rewritten.

Checksums: `put_*` returns the sha256 computed while streaming. So that `list` does not have to read
every byte again, a small hidden sidecar (``.mlws-sum-<name>``) keeps the digest together with a
stamp of the file (inode, size, mtime for local files); if the stamp no longer matches (the file was
changed by something else) the digest is recomputed by streaming the file.
"""

from __future__ import annotations

import abc
import builtins
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from ..errors import InvalidParameter, NotFound
from ..paths import RESERVED_PREFIX, resolve_under, safe_prefix, safe_relative_path, safe_run_id
from .atomic_write import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ByteReader,
    StagedFile,
    write_local_atomic,
)

__all__ = [
    "BLOBS_FOLDER",
    "CHUNK_SIZE",
    "SUM_PREFIX",
    "TEMP_PREFIX",
    "ArtifactInfo",
    "ArtifactStore",
    "ArtifactUpload",
    "ByteReader",
    "LocalArtifactStore",
    "open_artifact_store",
    "safe_blob_id",
]

#: Name prefix of checksum sidecars kept next to each artifact.
SUM_PREFIX = RESERVED_PREFIX + "sum-"
#: Folder under the store root holding content-addressed blobs; not a valid run id, so runs cannot reach it.
BLOBS_FOLDER = "blobs"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def safe_blob_id(sha256: str) -> str:
    """Check that a blob name is a sha256 digest: 64 lowercase hex digits (nothing else reaches the disk)."""
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        shown = sha256[:80] if isinstance(sha256, str) else type(sha256).__name__
        raise InvalidParameter(f"Blob id {shown!r} is not a sha256 digest (64 lowercase hex digits).")
    return sha256


def blob_mismatch(digest: str, expected: str) -> str:
    """The refusal when a blob's bytes do not hash to the digest its caller announced."""
    return (
        f"The blob's bytes have sha256 {digest}, not the {expected} announced (the source changed "
        "while it was read?); nothing was stored."
    )


def blob_key(sha256: str) -> str:
    """The blob's path relative to the store root: ``blobs/<sha[:2]>/<sha>`` (`sha256` already checked)."""
    return f"{BLOBS_FOLDER}/{sha256[:2]}/{sha256}"


@dataclass(frozen=True)
class ArtifactInfo:
    """One stored file: its path relative to the run's artifact folder, size in bytes, sha256 hex."""

    path: str
    size: int
    sha256: str


class ArtifactUpload:
    """An artifact arriving in pieces, invisible until `commit` (from `ArtifactStore.begin_upload`).

    Who calls it: the server's streamed PUT handler, each method on a pool thread: `write` per
    received chunk, then `commit` once the body is complete, or `abort` when the client went away or
    the request failed. `abort` after `commit` does nothing, so cleanup code may always call it.
    """

    def __init__(
        self,
        path: str,
        staged: StagedFile,
        finish: Callable[[StagedFile, str | None], tuple[int, str]],
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self._staged = staged
        self._finish = finish
        self._cleanup = cleanup

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._staged.write(chunk)

    def commit(self, expected_sha256: str | None = None) -> ArtifactInfo:
        """Make the artifact visible (atomically) and return its size and sha256.

        With `expected_sha256`, a mismatch raises `InvalidParameter` and nothing is stored.
        """
        try:
            size, digest = self._finish(self._staged, expected_sha256)
        finally:
            self._staged.abort()
            if self._cleanup is not None:
                self._cleanup()
        return ArtifactInfo(path=self.path, size=size, sha256=digest)

    def abort(self) -> None:
        self._staged.abort()
        if self._cleanup is not None:
            self._cleanup()


def open_artifact_store(url: str | os.PathLike[str]) -> ArtifactStore:
    """Open the artifact store at a local folder path (the default) or any fsspec URL.

    ``file://`` URLs use the local backend too (same disk, real fsync and atomic rename); every other
    scheme goes through fsspec, which is imported only then.
    """
    if isinstance(url, os.PathLike):
        return LocalArtifactStore(os.fspath(url))
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("Artifact store URL must be a non-empty path or URL.")
    if "://" not in url:
        return LocalArtifactStore(url)
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameter(
                f"file:// URL {url!r} names a remote host; only local files are supported."
            )
        return LocalArtifactStore(unquote(parts.path))
    from .artifacts_fsspec import FsspecArtifactStore

    store = FsspecArtifactStore(url)
    local_root = store.local_root()
    # fsspec's own local filesystem ("local://...") gets the local backend and its symlink checks.
    return LocalArtifactStore(local_root) if local_root is not None else store


class ArtifactStore(abc.ABC):
    """The interface every artifact backend offers; validation and the shared flows live here.

    Subclasses implement the five `_`-methods on already-validated run ids and relative paths.
    """

    url: str

    # -- public interface -------------------------------------------------------------------------

    def put_file(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str) -> ArtifactInfo:
        """Copy a local file into the run's artifacts (streamed, atomic)."""
        safe_run_id(run_id)
        safe_relative_path(artifact_path)  # refuse a bad name before touching the local file
        try:
            source = open(local_path, "rb")
        except FileNotFoundError:
            raise NotFound(f"Local file {os.fspath(local_path)!r} does not exist.") from None
        except IsADirectoryError:
            raise InvalidParameter(
                f"{os.fspath(local_path)!r} is a folder; log its files one by one."
            ) from None
        with source:
            return self.put_stream(run_id, source, artifact_path)

    def put_bytes(self, run_id: str, data: bytes, artifact_path: str) -> ArtifactInfo:
        """Store bytes already in memory (small artifacts: text, JSON, figures)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidParameter(f"put_bytes needs bytes, not {type(data).__name__}.")
        return self.put_stream(run_id, io.BytesIO(data), artifact_path)

    def put_stream(self, run_id: str, fileobj: ByteReader, artifact_path: str) -> ArtifactInfo:
        """Store what a binary file object yields, read in `CHUNK_SIZE` pieces, never whole in memory."""
        run = safe_run_id(run_id)
        rel = safe_relative_path(artifact_path)
        size, digest = self._write(run, rel, fileobj)
        return ArtifactInfo(path=rel, size=size, sha256=digest)

    def begin_upload(self, run_id: str, artifact_path: str) -> ArtifactUpload:
        """Start receiving an artifact whose bytes are pushed chunk by chunk (a streamed HTTP upload).

        The path is checked now, before any byte arrives, and again at `commit`.
        """
        return self._begin_upload(safe_run_id(run_id), safe_relative_path(artifact_path))

    def open(self, run_id: str, artifact_path: str) -> IO[bytes]:
        """A binary file object to stream one artifact from; the caller closes it."""
        return self._open(safe_run_id(run_id), safe_relative_path(artifact_path))

    def list(self, run_id: str, prefix: str = "") -> builtins.list[ArtifactInfo]:
        """Every file under a folder prefix (recursive; "" = the whole run), or that one file; sorted."""
        run = safe_run_id(run_id)
        return [self._info(run, rel) for rel in self._files(run, safe_prefix(prefix))]

    def download(self, run_id: str, artifact_path: str, dest_dir: str | os.PathLike[str]) -> Path:
        """Copy one file, or every file under a folder prefix, to ``dest_dir/<artifact_path>``.

        Returns that local path. Each file is streamed in chunks into a temp file and renamed, and each
        destination is checked with the safe-path helper, so nothing is written outside `dest_dir`
        (not even through a symlink inside it).
        """
        run = safe_run_id(run_id)
        pre = safe_prefix(artifact_path)
        files = self._files(run, pre)
        if not files:
            raise NotFound(
                f"Run {run!r} has no artifact {pre!r}." if pre else f"Run {run!r} has no artifacts."
            )
        dest_root = Path(dest_dir).expanduser().absolute()
        dest_root.mkdir(parents=True, exist_ok=True)
        for rel in files:
            target = resolve_under(dest_root, rel, follow_final_link=False)
            with self._open(run, rel) as source:
                write_local_atomic(target, source, rel)
        return dest_root / pre if pre else dest_root

    def delete(self, run_id: str, artifact_path: str) -> None:
        """Remove one artifact file, or a whole folder of them."""
        self._delete(safe_run_id(run_id), safe_relative_path(artifact_path))

    # -- content-addressed blobs (code snapshots) -------------------------------------------------

    def put_blob(self, fileobj: ByteReader, *, sha256: str | None = None) -> ArtifactInfo:
        """Store a stream as a blob named by its sha256; returns ArtifactInfo(path=sha, size, sha256).

        The bytes are hashed while they are staged; when a blob with that digest already exists the
        staged copy is dropped and the existing blob kept. With `sha256` (the caller already hashed
        the source), an existing blob is answered without reading the source at all, and a source
        whose bytes do not hash to it is refused (`InvalidParameter`, nothing stored).
        """
        if sha256 is not None:
            sha256 = safe_blob_id(sha256)
            size = self._blob_size(sha256)
            if size is not None:
                return ArtifactInfo(path=sha256, size=size, sha256=sha256)
        size, digest = self._put_blob(fileobj, sha256)
        return ArtifactInfo(path=digest, size=size, sha256=digest)

    def has_blob(self, sha256: str) -> bool:
        """Whether a blob with this digest is stored."""
        return self._blob_size(safe_blob_id(sha256)) is not None

    def blob_size(self, sha256: str) -> int | None:
        """The stored blob's size in bytes, or None when there is none."""
        return self._blob_size(safe_blob_id(sha256))

    def open_blob(self, sha256: str) -> IO[bytes]:
        """A binary file object to stream one blob from (NotFound if absent); the caller closes it."""
        return self._open_blob(safe_blob_id(sha256))

    def begin_blob_upload(self, sha256: str) -> ArtifactUpload:
        """Start receiving a blob pushed chunk by chunk (the server's `PUT /blobs/{sha256}`).

        `commit(sha256)` stores it unless a blob of that digest exists (then the copy is dropped);
        bytes that hash to anything else are refused and nothing is stored.
        """
        return self._begin_blob_upload(safe_blob_id(sha256))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- what a backend provides ------------------------------------------------------------------

    @abc.abstractmethod
    def _write(self, run: str, rel: str, reader: ByteReader) -> tuple[int, str]:
        """Store the stream at `rel` atomically; return (size, sha256 hex)."""

    @abc.abstractmethod
    def _open(self, run: str, rel: str) -> IO[bytes]:
        """Open one file for binary reading; NotFound if absent."""

    @abc.abstractmethod
    def _files(self, run: str, prefix: str) -> builtins.list[str]:
        """Sorted relative paths of the files at or under `prefix` ("" = all); [] if none."""

    @abc.abstractmethod
    def _info(self, run: str, rel: str) -> ArtifactInfo:
        """Size and sha256 of one file (from its sidecar when still valid)."""

    @abc.abstractmethod
    def _delete(self, run: str, rel: str) -> None:
        """Remove a file or folder; NotFound if absent."""

    @abc.abstractmethod
    def _put_blob(self, reader: ByteReader, expected: str | None) -> tuple[int, str]:
        """Stage and hash the stream, move it to `blob_key(digest)` unless that exists; (size, digest).

        A digest other than `expected` (when given) is `InvalidParameter` and nothing is stored.
        """

    @abc.abstractmethod
    def _blob_size(self, sha256: str) -> int | None:
        """The size of the stored blob, or None when there is none."""

    @abc.abstractmethod
    def _open_blob(self, sha256: str) -> IO[bytes]:
        """Open one blob for binary reading; NotFound if absent."""

    def _begin_upload(self, run: str, rel: str) -> ArtifactUpload:
        """Default for remote backends: spool into a private local temp folder, then one `_write`.

        The bytes are stored only once they are complete (and match the announced sha256), so the
        remote store never sees a partial upload; the local backend overrides this to stage in place.
        """
        spool = Path(tempfile.mkdtemp(prefix="mlws-upload-"))

        def finish(staged: StagedFile, expected: str | None) -> tuple[int, str]:
            local = spool / "complete"
            staged.commit(local, expected)
            with builtins.open(local, "rb") as source:
                return self._write(run, rel, source)

        def cleanup() -> None:
            shutil.rmtree(spool, ignore_errors=True)

        try:
            staged = StagedFile(spool, rel)
        except BaseException:
            cleanup()
            raise
        return ArtifactUpload(rel, staged, finish, cleanup)

    def _begin_blob_upload(self, sha256: str) -> ArtifactUpload:
        """Default: spool into a private local temp folder, then one `_put_blob` of the whole."""
        spool = Path(tempfile.mkdtemp(prefix="mlws-blob-"))

        def finish(staged: StagedFile, expected: str | None) -> tuple[int, str]:
            local = spool / "complete"
            staged.commit(local, expected or sha256)
            with builtins.open(local, "rb") as source:
                return self._put_blob(source, sha256)

        def cleanup() -> None:
            shutil.rmtree(spool, ignore_errors=True)

        try:
            staged = StagedFile(spool, sha256)
        except BaseException:
            cleanup()
            raise
        return ArtifactUpload(sha256, staged, finish, cleanup)


def listable(names: Iterable[str]) -> list[str]:
    """Keep the relative paths a user could name: drops our hidden files and names the helper refuses."""
    kept = []
    for name in names:
        if any(part.startswith(RESERVED_PREFIX) for part in name.split("/")):
            continue
        try:
            kept.append(safe_relative_path(name))
        except InvalidParameter:
            continue
    return sorted(set(kept))


# The local backend lives in its own module, as the fsspec one does; imported last because it
# builds on the classes above.
from .artifacts_local import LocalArtifactStore  # noqa: E402
