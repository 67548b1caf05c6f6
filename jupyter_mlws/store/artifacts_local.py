"""The local-folder artifact store (the default `.mlws/artifacts`), via os and pathlib.

Split from `artifacts.py` (the interface and the factory) as `artifacts_fsspec.py` is for
remote stores. Writes go through `atomic_write` and every path through `paths`. Blobs are staged in
``<root>/blobs`` and renamed onto ``blobs/<sha[:2]>/<sha>`` only when that name is free.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import IO

from ..errors import InvalidParameter, NotFound
from ..paths import RESERVED_PREFIX, resolve_under
from .artifacts import (
    BLOBS_FOLDER,
    SUM_PREFIX,
    ArtifactInfo,
    ArtifactStore,
    ArtifactUpload,
    blob_key,
    blob_mismatch,
    listable,
)
from .atomic_write import (
    CHUNK_SIZE,
    ByteReader,
    StagedFile,
    hash_stream,
    storage_error,
    write_local_atomic,
)

_BLOB_LABEL = "snapshot blob"


class LocalArtifactStore(ArtifactStore):
    """Artifacts in a folder on this machine (the default `.mlws/artifacts`), via os and pathlib."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self._blobs: str | None = None

    def sweep_orphans(self, older_than_seconds: float = 3600.0) -> int:
        """Remove temp files of uploads that never finished (a process killed mid-write):
        `.mlws-part-*` files untouched for `older_than_seconds`. A write in progress touches its
        file as it goes, so it is never taken. Returns how many were removed (RELIABILITY C7)."""
        import time

        from .atomic_write import TEMP_PREFIX

        cutoff, removed = time.time() - older_than_seconds, 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except OSError:
                    continue
        return removed

    def _base(self, run: str) -> Path:
        """The run's artifact folder, proven (through symlinks) to lie under the store root."""
        return resolve_under(self.root, f"{run}/artifacts")

    def _write(self, run: str, rel: str, reader: ByteReader) -> tuple[int, str]:
        base = self._base(run)
        target = resolve_under(base, rel, follow_final_link=False)
        size, digest = write_local_atomic(target, reader, rel)
        self._save_sum(target, digest)
        return size, digest

    def _begin_upload(self, run: str, rel: str) -> ArtifactUpload:
        """Stage in the run's artifact folder (same filesystem: the final rename is atomic).

        The temp file sits at the top of the run's folder, hidden by its reserved prefix, and the
        target's folders are created only at commit, so an abandoned upload leaves nothing behind.
        """
        base = self._base(run)
        resolve_under(base, rel, follow_final_link=False)  # refuse a symlink escape before any byte

        def finish(staged: StagedFile, expected: str | None) -> tuple[int, str]:
            target = resolve_under(self._base(run), rel, follow_final_link=False)
            size, digest = staged.commit(target, expected)
            self._save_sum(target, digest)
            return size, digest

        return ArtifactUpload(rel, StagedFile(base, rel), finish)

    def _open(self, run: str, rel: str) -> IO[bytes]:
        real = resolve_under(self._base(run), rel)
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise NotFound(f"Run {run!r} has no artifact {rel!r}.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidParameter(f"Artifact {rel!r} changed into a symbolic link; refused.") from None
            raise storage_error("reading", rel, exc) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InvalidParameter(f"Artifact {rel!r} is a folder, not a file: list or download it instead.")
        return os.fdopen(fd, "rb")

    def _files(self, run: str, prefix: str) -> builtins.list[str]:
        base = self._base(run)
        start = resolve_under(base, prefix) if prefix else base
        if start.is_file():
            return [prefix]
        if not start.is_dir():
            return []
        found = []
        for folder, dirs, names in os.walk(start, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(RESERVED_PREFIX)]
            for name in names:
                full = Path(folder, name)
                if full.is_symlink():
                    real = Path(os.path.realpath(full))
                    if not (real.is_relative_to(base) and real.is_file()):
                        continue  # a link out of the run's folder, or to a folder: never followed
                elif not full.is_file():
                    continue  # sockets, fifos, devices are not artifacts
                found.append(full.relative_to(base).as_posix())
        return listable(found)

    def _info(self, run: str, rel: str) -> ArtifactInfo:
        base = self._base(run)
        real = resolve_under(base, rel)
        try:
            st = real.stat()
        except FileNotFoundError:
            raise NotFound(f"Run {run!r} has no artifact {rel!r}.") from None
        named = resolve_under(base, rel, follow_final_link=False)
        digest = self._load_sum(named, st)
        if digest is None:
            with self._open(run, rel) as source:
                _, digest = hash_stream(source)
        return ArtifactInfo(path=rel, size=st.st_size, sha256=digest)

    def _delete(self, run: str, rel: str) -> None:
        target = resolve_under(self._base(run), rel, follow_final_link=False)
        try:
            if target.is_symlink() or not target.is_dir():
                target.unlink()
            else:
                shutil.rmtree(target)
        except FileNotFoundError:
            raise NotFound(f"Run {run!r} has no artifact {rel!r}.") from None
        except OSError as exc:
            raise storage_error("deleting", rel, exc) from exc
        with contextlib.suppress(OSError):
            (target.parent / f"{SUM_PREFIX}{target.name}").unlink()

    # -- blobs ------------------------------------------------------------------------------------

    def _blob_path(self, sha256: str) -> Path:
        """Where the blob lives: its folder proven to lie under the root, its own name not followed."""
        return resolve_under(self.root, blob_key(sha256), follow_final_link=False)

    def _put_blob(self, reader: ByteReader, expected: str | None) -> tuple[int, str]:
        """Stage in ``<root>/blobs`` (same filesystem as every blob: the final rename is atomic)."""
        staged = StagedFile(resolve_under(self.root, BLOBS_FOLDER), _BLOB_LABEL)
        digest = hashlib.sha256()
        try:
            while chunk := reader.read(CHUNK_SIZE):
                if not isinstance(chunk, bytes | bytearray | memoryview):
                    raise InvalidParameter(
                        f"A blob's source gave {type(chunk).__name__}, not bytes (open it in 'rb' mode)."
                    )
                digest.update(chunk)
                staged.write(chunk)
            sha = digest.hexdigest()
            if expected is not None and sha != expected:
                raise InvalidParameter(blob_mismatch(sha, expected))
            if self._blob_size(sha) is not None:
                return staged.size, sha  # stored before: keep that copy, drop ours (finally)
            return staged.commit(self._blob_path(sha), sha)
        finally:
            staged.abort()  # no-op after a commit

    def _begin_blob_upload(self, sha256: str) -> ArtifactUpload:
        """Stage in ``<root>/blobs`` and rename onto the blob's name, unless it is stored already."""
        staged_in = resolve_under(self.root, BLOBS_FOLDER)

        def finish(staged: StagedFile, expected: str | None) -> tuple[int, str]:
            if (expected or sha256) != sha256:
                raise InvalidParameter(blob_mismatch(expected or "", sha256))
            if self._blob_size(sha256) is not None:
                digest = staged.digest()
                staged.abort()
                if digest != sha256:
                    raise InvalidParameter(blob_mismatch(digest, sha256))
                return staged.size, sha256
            return staged.commit(self._blob_path(sha256), sha256)

        return ArtifactUpload(sha256, StagedFile(staged_in, _BLOB_LABEL), finish)

    def _blob_size(self, sha256: str) -> int | None:
        """Two lstats, no realpath: a snapshot asks this for every file, so it must cost microseconds.

        The blobs folder's real path is proven under the root once per store object (a link planted
        there later cannot redirect it); the two levels below it must be a real folder and a regular
        file, never links.
        """
        if self._blobs is None:
            self._blobs = os.fspath(resolve_under(self.root, BLOBS_FOLDER))
        folder = os.path.join(self._blobs, sha256[:2])
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return None
            st = os.lstat(os.path.join(folder, sha256))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise storage_error("reading", _BLOB_LABEL, exc) from exc
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def _open_blob(self, sha256: str) -> IO[bytes]:
        path = self._blob_path(sha256)
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"The artifact store holds no blob {sha256}.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidParameter(f"Blob {sha256} is a symbolic link; refused.") from None
            raise storage_error("reading", _BLOB_LABEL, exc) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound(f"The artifact store holds no blob {sha256}.")
        return os.fdopen(fd, "rb")

    @staticmethod
    def _stamp(st: os.stat_result) -> str:
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def _save_sum(self, target: Path, digest: str) -> None:
        """Best effort: a missing sidecar only means `list` recomputes the digest."""
        with contextlib.suppress(OSError):
            record = {"sha256": digest, "stamp": self._stamp(target.stat())}
            (target.parent / f"{SUM_PREFIX}{target.name}").write_text(json.dumps(record))

    def _load_sum(self, named: Path, st: os.stat_result) -> str | None:
        try:
            record = json.loads((named.parent / f"{SUM_PREFIX}{named.name}").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("stamp") != self._stamp(st):
            return None
        digest = record.get("sha256")
        return digest if isinstance(digest, str) and len(digest) == 64 else None
