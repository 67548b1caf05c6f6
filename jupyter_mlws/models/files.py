"""A model version's files: collect them, store them as blobs, and bring them back verified.

Who calls it: `client/models.py` (`ws.models.register` → `collect` + `store_files`; `ws.models.load`
and `download` → `materialize`), the serving replica (`serving/`, helper B: `materialize` then the
gate in `models/gate.py`), and the server's register route (helper C) through `ws.models`.

Decisions:

- Content-addressed. Each file becomes an artifact-store blob named by its sha256
  (`ArtifactStore.put_blob`); the version row keeps only the manifest, a tuple of
  `ModelFile(path, size, sha256)`. Registering the same bytes again (a retrained model that did not
  change, a shared tokenizer, the same file under two names) costs a read and nothing more. Files
  are hashed first and handed to `put_blob(sha256=...)`, so a blob that already exists is never
  staged or fsynced again; bytes that change between the hash and the copy are refused by the store.
- The version's own digest is `manifest_sha256(files)`: the sha256 of the sorted
  ``"path\\tsha256\\n"`` lines. It names the version's content (two versions with equal digests have
  the same files) and the cache folder.
- `collect` accepts a file or a folder and refuses what a model folder should never hold: a symbolic
  link whose target leaves the folder (or is not a regular file), a device/fifo/socket, a name the
  one safe-path helper (`jupyter_mlws/paths.py`) refuses (``..``, reserved ``.mlws-`` names, ...), more than
  `MAX_FILES` files or more than `MAX_TOTAL_BYTES`. ``__pycache__`` folders are skipped (derived, and
  version specific). A link to a file inside the folder is stored as the file it points at.
- `materialize` (RELIABILITY S6) writes the files of one version to
  ``<cache_root>/<version sha256>/`` and verifies them *every* time before handing the folder out:
  the manifest must hash to the version's sha256, every manifest path must pass the safe-path helper,
  the folder must hold exactly the manifest's files (no extra module planted next to them, no links),
  and each file must hash to its manifest digest. A cached folder that fails is rebuilt from the
  blobs; a blob that fails is a `ModelIntegrityError` (fail closed: nothing is loaded). A folder is
  built under a hidden ``.mlws-part-*`` name and renamed into place, so a reader never sees half a
  model; two processes racing to build it both end with one verified copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import Conflict, InvalidParameter, NotFound
from ..paths import RESERVED_PREFIX, resolve_under, safe_relative_path
from ..store.atomic_write import CHUNK_SIZE

if TYPE_CHECKING:
    from ..entities import ModelFile, ModelVersion
    from ..location import WorkspaceLocation
    from ..store.artifacts import ArtifactStore

__all__ = [
    "MAX_FILES",
    "MAX_TOTAL_BYTES",
    "ModelIntegrityError",
    "cache_root",
    "collect",
    "manifest_sha256",
    "materialize",
    "store_files",
    "verify_folder",
]

#: Most files one model version may hold (a folder with more is almost surely the wrong folder).
MAX_FILES = 10_000
#: Largest total size of one model version's files.
MAX_TOTAL_BYTES = 50 * 1024**3
_SKIPPED_DIRS = {"__pycache__"}
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class ModelIntegrityError(Conflict):
    """A model version's stored bytes no longer match its manifest (tampered or damaged): refused."""

    code = "model_integrity"


def collect(path: str | os.PathLike[str], label: str | None = None) -> list[tuple[str, Path]]:
    """The files of a model: ``[(relative posix path, absolute path to read)]``, sorted by path.

    `path` is one file (its name becomes the relative path) or a folder (walked, links not followed;
    see the module docstring for what is refused). Raises NotFound / InvalidParameter, whose
    messages name the path as `label` (the user's own spelling; default: `path` as given).
    """
    shown = os.fspath(path) if label is None else label
    root = Path(path).expanduser().absolute()
    try:
        st = root.stat()
    except FileNotFoundError:
        raise NotFound(f"No file or folder at {shown!r} to register.") from None
    if stat.S_ISREG(st.st_mode):
        return [(safe_relative_path(root.name), root.resolve())]
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidParameter(f"{shown!r} is not a regular file or folder; refused.")
    real_root = root.resolve()
    found: list[tuple[str, Path]] = []
    total = 0
    for folder, dirs, names in os.walk(real_root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for d in dirs:
            link = Path(folder, d)
            if link.is_symlink() and not Path(os.path.realpath(link)).is_relative_to(real_root):
                raise InvalidParameter(
                    f"{_rel(link, real_root)!r} is a link to a folder outside {shown!r}; refused."
                )
        for name in names:
            full = Path(folder, name)
            rel = _rel(full, real_root)
            target = Path(os.path.realpath(full))
            if full.is_symlink() and not target.is_relative_to(real_root):
                raise InvalidParameter(f"{rel!r} is a link that leaves the model folder; refused.")
            if not target.is_file():
                raise InvalidParameter(
                    f"{rel!r} is not a regular file (device, fifo, socket or broken link)."
                )
            found.append((safe_relative_path(rel), target))
            total += target.stat().st_size
            if len(found) > MAX_FILES:
                raise InvalidParameter(f"{shown!r} holds more than {MAX_FILES} files; refused.")
            if total > MAX_TOTAL_BYTES:
                raise InvalidParameter(
                    f"{shown!r} holds more than {MAX_TOTAL_BYTES // 1024**3} GiB; refused."
                )
    if not found:
        raise InvalidParameter(f"The folder {shown!r} holds no files to register.")
    return sorted(found)


def _rel(full: Path, root: Path) -> str:
    return full.relative_to(root).as_posix()


def store_files(
    artifacts: ArtifactStore, collected: Iterable[tuple[str, Path]]
) -> tuple[tuple[ModelFile, ...], str, int]:
    """Store each collected file as a blob; returns (manifest sorted by path, manifest sha256, total size)."""
    from ..entities import ModelFile

    files = []
    for rel, source in collected:
        try:
            with _open_regular(source) as handle:
                size, digest = _hash(handle)
                if not artifacts.has_blob(digest):
                    handle.seek(0)
                    artifacts.put_blob(handle, sha256=digest)
        except (PermissionError, FileNotFoundError, IsADirectoryError) as exc:
            raise InvalidParameter(f"Cannot read the model file {rel!r}: {exc.strerror}.") from None
        files.append(ModelFile(path=rel, size=size, sha256=digest))
    files.sort(key=lambda f: f.path)
    _check_unique(files)
    return tuple(files), manifest_sha256(files), sum(f.size for f in files)


def manifest_sha256(files: Sequence[ModelFile]) -> str:
    """The sha256 of the sorted ``"path\\tsha256\\n"`` lines: the digest of a whole model version."""
    digest = hashlib.sha256()
    for line in sorted(f"{f.path}\t{f.sha256}\n" for f in files):
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


def materialize(artifacts: ArtifactStore, version: ModelVersion, cache_root: str | os.PathLike[str]) -> Path:
    """A local folder holding exactly `version`'s files, each re-hashed against the manifest (S6).

    The folder is ``<cache_root>/<version.sha256>/``, built from the blobs on first use and reused
    afterwards, but verified on every call. Treat it as read-only. Raises `ModelIntegrityError` when
    the stored bytes do not match the manifest, `InvalidParameter` for a manifest path the safe-path
    helper refuses, NotFound when a blob is missing.
    """
    files = _checked_manifest(version)
    root = Path(cache_root).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    final = root / version.sha256
    if final.exists() or final.is_symlink():
        try:
            verify_folder(final, files)
            return final
        except ModelIntegrityError:
            _remove(final)  # a damaged or edited cache copy: rebuild it from the blobs
    staging = root / f"{RESERVED_PREFIX}part-{secrets.token_hex(8)}"
    staging.mkdir()
    try:
        for f in files:
            target = resolve_under(staging, f.path, follow_final_link=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_blob(artifacts, f, target)
        _fsync_dir(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():
                raise
            # Another process built it first: use theirs, once it verifies.
    finally:
        if staging.exists():
            _remove(staging)
    verify_folder(final, files)
    return final


def verify_folder(folder: Path, files: Sequence[ModelFile]) -> None:
    """Check that `folder` holds exactly `files` (regular files, no links) with matching digests."""
    if folder.is_symlink() or not folder.is_dir():
        raise ModelIntegrityError(f"The model cache {folder} is not a plain folder.")
    expected = {f.path: f for f in files}
    seen = set()
    for current, dirs, names in os.walk(folder, followlinks=False):
        for name in (*dirs, *names):
            full = Path(current, name)
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise ModelIntegrityError(f"The model cache holds a link or special file {name!r}.")
        for name in names:
            rel = Path(current, name).relative_to(folder).as_posix()
            if rel not in expected:
                raise ModelIntegrityError(f"The model cache holds a file not in the manifest: {rel!r}.")
            seen.add(rel)
            with _open_regular(Path(current, name)) as handle:
                size, digest = _hash(handle)
            if digest != expected[rel].sha256 or size != expected[rel].size:
                raise ModelIntegrityError(f"{rel!r} does not match its manifest digest; refused.")
    missing = sorted(set(expected) - seen)
    if missing:
        raise ModelIntegrityError(f"The model cache lacks {missing[0]!r}.")


def _checked_manifest(version: ModelVersion) -> tuple[ModelFile, ...]:
    """The version's manifest, every path re-validated and the whole hashing to `version.sha256`."""
    files = tuple(version.files)
    if not files:
        raise ModelIntegrityError(
            f"{_kind(version)} {version.name!r} version {version.version} lists no files."
        )
    for f in files:
        if safe_relative_path(f.path) != f.path:
            raise InvalidParameter(f"Manifest path {f.path!r} is not in canonical form; refused.")
    _check_unique(files)
    if manifest_sha256(files) != version.sha256:
        raise ModelIntegrityError(
            f"{_kind(version)} {version.name!r} version {version.version}: its file list does not hash "
            "to the recorded sha256 (the registry entry was altered); refused."
        )
    return files


def _kind(version: ModelVersion) -> str:
    """What the manifest belongs to, for messages: a model version, or a data asset's (issue 16)."""
    return "Model" if hasattr(version, "flavor") else "Data asset"


def _check_unique(files: Sequence[ModelFile]) -> None:
    paths = [f.path for f in files]
    folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    clash = sorted((set(paths) & folders) | {p for p in paths if paths.count(p) > 1})
    if clash:
        raise InvalidParameter(f"Manifest names {clash[0]!r} twice (as a file and a folder?).")


def _copy_blob(artifacts: ArtifactStore, f: ModelFile, target: Path) -> None:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    with os.fdopen(fd, "wb") as out, artifacts.open_blob(f.sha256) as source:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != f.sha256 or size != f.size:
        raise ModelIntegrityError(
            f"The stored blob of {f.path!r} does not hash to its manifest digest (tampered or damaged); "
            "refused to use this model version."
        )


def _open_regular(path: Path) -> IO[bytes]:
    """Open a file for reading without following a final link, refusing anything but a regular file."""
    fd = os.open(path, _READ_FLAGS)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidParameter(f"{path.name!r} is not a regular file.")
    return os.fdopen(fd, "rb")


def _hash(handle: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    for current, _dirs, _names in os.walk(folder):
        with contextlib.suppress(OSError):
            fd = os.open(current, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)


def cache_root(location: WorkspaceLocation, folder: str = "models-cache") -> Path:
    """Where verified copies of model versions go: ``<workspace>/models-cache`` for a folder workspace,
    else ``$XDG_CACHE_HOME/jupyter_mlws/models-cache`` (a database or server workspace has no folder).
    Data asset versions use the same rule with `folder` "data-cache"."""
    if location.is_local:
        return Path(location.workspace).expanduser().absolute() / folder
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter_mlws" / folder
