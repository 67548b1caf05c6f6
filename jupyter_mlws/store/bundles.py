"""Safe unpacking of uploaded tar and zip bundles (RELIABILITY P5).

Who calls it: code that accepts a folder as one archive, such as a code snapshot, a model directory
uploaded from outside, or a `download` of a bundle that is to be expanded. Never call `tarfile`'s or
`zipfile`'s own `extractall` on user archives.

How it stays safe:

- every member name goes through the one safe-path helper (`paths.safe_relative_path`), so ``../``,
  absolute names, drive letters and backslashes are refused, and every destination through
  `paths.resolve_under`, so a symlink already inside `dest` cannot redirect a write;
- only regular files and folders are accepted: symlinks, hardlinks, devices, fifos are refused; for
  tar the standard library's ``filter="data"`` rules are applied as well (`tarfile.data_filter`);
- every header is checked *before* anything is written: more than `max_members` entries, a total
  declared size over `max_total_bytes`, or a declared size more than `max_ratio` times the archive's
  size on disk (a zip bomb) stops the whole extraction with `PayloadTooLarge`. For tar, headers are
  read one by one and the check runs before the data of the member is decompressed;
- while writing, the real byte count is enforced again (a header that lies cannot exceed the quota),
  files are streamed in chunks through the same atomic writer as the artifact store, and on any
  failure the files this call created are removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import InvalidParameter, PayloadTooLarge
from ..paths import resolve_under, safe_relative_path
from .atomic_write import CHUNK_SIZE, write_local_atomic

#: Default cap on the total uncompressed size of one bundle.
MAX_TOTAL_BYTES = 2 * 1024**3
#: Default cap on uncompressed size / archive size: beyond this it is treated as a zip bomb.
MAX_RATIO = 100.0
#: Default cap on the number of entries (inode exhaustion with millions of empty files).
MAX_MEMBERS = 10_000


@dataclass(frozen=True)
class _Entry:
    name: str  # validated relative path
    is_dir: bool
    size: int  # declared uncompressed size
    source: tarfile.TarInfo | zipfile.ZipInfo  # where to read it from


def extract_archive(
    archive_path: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
) -> list[str]:
    """Unpack a tar (any compression) or zip archive into `dest`; return the files written, sorted.

    Raises `InvalidParameter` for an unsafe or unreadable archive and `PayloadTooLarge` for one over
    the limits. Nothing is written when a header breaks a rule.
    """
    archive = Path(archive_path)
    try:
        archive_size = archive.stat().st_size
    except OSError as exc:
        raise InvalidParameter(f"Archive {os.fspath(archive_path)!r} cannot be read: {exc}") from None
    limits = _Limits(max_total_bytes, max_ratio * max(archive_size, 1), max_members)
    dest_root = Path(dest).expanduser().absolute()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            entries = _zip_entries(zf, limits)
            return _extract(entries, dest_root, limits, lambda e: zf.open(e.source))  # type: ignore[arg-type]
    try:
        tf = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidParameter(f"{archive.name!r} is neither a zip nor a tar archive ({exc}).") from None
    with tf:
        entries = _tar_entries(tf, dest_root, limits)
        return _extract(entries, dest_root, limits, lambda e: tf.extractfile(e.source))  # type: ignore[arg-type]


@dataclass
class _Limits:
    max_total: int
    max_by_ratio: float
    max_members: int
    declared: int = 0
    count: int = 0

    def admit(self, name: str, size: int) -> None:
        """Account one header; refuse before any data of it is read or written."""
        self.count += 1
        self.declared += size
        if self.count > self.max_members:
            raise PayloadTooLarge(f"Archive has more than {self.max_members} entries; refused.")
        if self.declared > self.max_total:
            raise PayloadTooLarge(
                f"Archive expands to more than {self.max_total} bytes (at {name!r}); refused."
            )
        if self.declared > self.max_by_ratio:
            raise PayloadTooLarge(
                f"Archive expands more than {self.max_by_ratio:.0f} bytes, over the allowed ratio to its "
                f"own size (at {name!r}): treated as a zip bomb and refused."
            )


def _member_name(raw: str, is_dir: bool) -> str | None:
    """Validate a member name; a folder entry for the archive's own top ("./") is skipped."""
    if is_dir and raw.strip("/") in ("", "."):
        return None
    try:
        return safe_relative_path(raw)
    except InvalidParameter as exc:
        raise InvalidParameter(f"Archive member refused: {exc.message}") from None


def _tar_entries(tf: tarfile.TarFile, dest: Path, limits: _Limits) -> list[_Entry]:
    entries = []
    data_filter = getattr(tarfile, "data_filter", None)
    while (member := tf.next()) is not None:
        if member.issym() or member.islnk():
            raise InvalidParameter(f"Archive member {member.name!r} is a link; links are not accepted.")
        if not (member.isreg() or member.isdir()):
            raise InvalidParameter(
                f"Archive member {member.name!r} is a device, fifo or other special file; refused."
            )
        name = _member_name(member.name, member.isdir())
        if name is None:
            continue
        if data_filter is not None:
            try:
                data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                raise InvalidParameter(f"Archive member {member.name!r} refused: {exc}") from None
        limits.admit(name, member.size)
        entries.append(_Entry(name, member.isdir(), member.size, member))
    return entries


def _zip_entries(zf: zipfile.ZipFile, limits: _Limits) -> list[_Entry]:
    entries = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise InvalidParameter(f"Archive member {info.filename!r} is a symlink; links are not accepted.")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InvalidParameter(
                f"Archive member {info.filename!r} is a device, fifo or other special file; refused."
            )
        if info.flag_bits & 0x1:
            raise InvalidParameter(f"Archive member {info.filename!r} is encrypted; refused.")
        name = _member_name(info.filename, info.is_dir())
        if name is None:
            continue
        limits.admit(name, info.file_size)
        entries.append(_Entry(name, info.is_dir(), info.file_size, info))
    return entries


class _CappedReader:
    """Counts the real bytes of all members against the quota while they stream to disk."""

    def __init__(self, source: IO[bytes], limits: _Limits, written_so_far: list[int], name: str) -> None:
        self._source = source
        self._limits = limits
        self._written = written_so_far
        self._name = name

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        chunk = self._source.read(size)
        self._written[0] += len(chunk)
        if self._written[0] > min(self._limits.max_total, self._limits.max_by_ratio):
            raise PayloadTooLarge(
                f"Archive member {self._name!r} holds more data than its header declared; "
                "the size limit was reached and extraction stopped."
            )
        return chunk


def _extract(
    entries: list[_Entry], dest: Path, limits: _Limits, open_member: Callable[[_Entry], IO[bytes] | None]
) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    written = [0]
    try:
        for entry in entries:
            target = resolve_under(dest, entry.name, follow_final_link=False)
            if entry.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            existed = target.exists()
            source = open_member(entry)
            if source is None:
                raise InvalidParameter(f"Archive member {entry.name!r} has no data to read.")
            with source:
                write_local_atomic(target, _CappedReader(source, limits, written, entry.name), entry.name)
            if not existed:
                created.append(target)
    except BaseException as exc:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
        if isinstance(exc, zipfile.BadZipFile | tarfile.TarError | EOFError | zlib.error):
            raise InvalidParameter(f"Archive is damaged: {exc}") from None
        raise
    return sorted(entry.name for entry in entries if not entry.is_dir)
