"""A run's code snapshot: the files of its folder, stored by content, plus a replayable history.

Who calls it: the `%%mlrun` finalizer (`notebook/mlrun.py`) from its background thread, with the
kernel's working folder (the notebook's folder) as `root`, the kernel's execution history and the
out-of-order warning from `execution_order_warning`; users read it back with `run.snapshot()` and
`run.restore_snapshot(dest)`. It lives in `client/` so jobs can reuse it; it imports nothing from a
kernel or a server.

Decisions (docs/snapshots.md says the same for users):

- Content-addressed. Every file is stored once, as a blob named by its sha256 in the artifact store
  (`ArtifactStore.put_blob`); a run keeps only ``snapshot/manifest.json`` (path, size, sha256 of each
  file) and ``snapshot/history.py``, both ordinary recorded artifacts. An unchanged file costs
  nothing: its blob exists. Hashes are cached per process by (path, size, mtime_ns, inode), so a
  second snapshot of an unchanged tree only stats its files. A file modified in the last
  `RACY_SECONDS` is not cached (a coarse clock could hide a later change of the same size).
- What is taken (the walk and its rules live in `snapshot_walk.py`): the files under `root`, minus
  `DEFAULT_IGNORES`, minus the workspace folder and a local artifact store when they lie inside
  `root`, minus what ``<root>/.mlwsignore`` lists (gitignore syntax via pathspec; its ``!`` lines
  can bring a default-ignored path back). The notebook file itself is always taken when it lies
  under `root`. Symbolic links are never followed out of `root`; a link to a file inside it is
  stored as that file's content; links to folders are not descended (no loops, no duplicates);
  sockets, fifos and devices are skipped. Names the artifact store's one safe-path helper refuses
  (``:``, ``#``, ``[``, ...) could not be restored safely, so they are left out with a warning.
- Caps (Azure ML's limits): `DEFAULT_MAX_MB` MiB and `DEFAULT_MAX_FILES` files, overridable by
  arguments or ``$MLWS_SNAPSHOT_MAX_MB`` / ``$MLWS_SNAPSHOT_MAX_FILES``. Over a cap no blob is stored
  at all (a half snapshot would look complete); `skipped` says what was found, the cap and the fix.
  The walk stops as soon as the file cap is passed, so a huge folder costs little.
- Warnings (cells run out of order, skipped names, unreadable files) and a skip go into the manifest
  and into the run tag ``mlws.snapshot.warning``, where the run table shows them.
- Restore writes each file through `paths.resolve_under` (the one safe-path helper) and the
  atomic-write machinery, checking every blob's sha256 on the way, so a tampered manifest can
  neither write outside `dest` nor plant different bytes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..repro.history import history_script
from ..store.atomic_write import hash_stream
from ..store.snapshot_files import HISTORY, MANIFEST, read_manifest, restore_files
from .snapshot_walk import (
    DEFAULT_IGNORES,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_MB,
    IGNORE_FILE,
    MAX_FILES_ENV,
    MAX_MB_ENV,
    TreeWalk,
    excluded_folders,
    over_cap_message,
    snapshot_caps,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..store.artifacts import ArtifactStore
    from .run import Run

__all__ = [
    "DEFAULT_IGNORES",
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_MB",
    "IGNORE_FILE",
    "MAX_FILES_ENV",
    "MAX_MB_ENV",
    "SnapshotResult",
    "execution_order_warning",
    "restore_snapshot",
    "snapshot_files",
    "take_snapshot",
]

WARNING_TAG = "mlws.snapshot.warning"
#: A file modified this recently is hashed again next time instead of trusting its stat stamp.
RACY_SECONDS = 2.0
_CACHE_LIMIT = 100_000
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


@dataclass
class SnapshotResult:
    """What `take_snapshot` stored: files and bytes in the snapshot, blobs new to the store."""

    files: int
    bytes: int
    new_blobs: int
    skipped: str | None = None
    warnings: list[str] = field(default_factory=list)


# ----- per-process caches (the finalizer thread and user calls may overlap) ---------------------

_lock = threading.Lock()
_hashes: dict[str, tuple[int, int, int, str]] = {}  # path -> (size, mtime_ns, inode, sha256)
_known_blobs: dict[str, set[str]] = {}  # remote store url -> digests seen stored


def take_snapshot(
    run: Run,
    root: str | os.PathLike[str],
    *,
    notebook_path: str | None = None,
    history: Sequence[tuple[int, str]] = (),
    order_warning: str | None = None,
    max_bytes: int | None = None,
    max_files: int | None = None,
) -> SnapshotResult:
    """Snapshot the files under `root` into `run` (see the module docstring); returns what it did."""
    started = time.time()
    root_real = os.path.realpath(root)
    if not os.path.isdir(root_real):
        raise NotFound(f"Cannot snapshot {os.fspath(root)!r}: it is not a folder.")
    warnings = [order_warning] if order_warning else []
    byte_cap, file_cap = snapshot_caps(max_bytes, max_files, warnings)
    store = run.workspace.artifact_store

    walk = TreeWalk(root_real, excluded_folders(run, root_real), file_cap)
    walk.run()
    if notebook_path:
        walk.include_notebook(notebook_path, warnings)

    total = sum(st.st_size for _, st in walk.files.values())
    skipped = over_cap_message(root_real, walk, total, byte_cap, file_cap)
    entries: list[dict[str, Any]] = []
    new_blobs = 0
    if skipped is None:
        for rel in sorted(walk.files):
            path, st = walk.files[rel]
            try:
                size, digest, new = _store_file(store, path, st)
            except (FileNotFoundError, PermissionError):
                walk.unreadable.append(rel)
                continue
            new_blobs += new
            entries.append({"path": rel, "size": size, "sha256": digest})
    warnings.extend(walk.warnings())
    manifest = {
        "format": 1,
        "root": os.path.basename(root_real) or root_real,
        "notebook_path": notebook_path,
        "created": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="milliseconds"),
        "files": entries,
        "total_bytes": sum(e["size"] for e in entries),
        "skipped": skipped,
        "warnings": warnings,
    }
    run.log_bytes(json.dumps(manifest, indent=1).encode("utf-8"), MANIFEST)
    run.log_text(history_script(history, run.id), HISTORY)
    notes = ([skipped] if skipped else []) + warnings
    if notes:
        run.set_tag(WARNING_TAG, "\n".join(notes)[:8000])
    return SnapshotResult(len(entries), manifest["total_bytes"], new_blobs, skipped, warnings)


def execution_order_warning(
    notebook_file: str | os.PathLike[str], executed_cell_ids: Sequence[str]
) -> str | None:
    """A warning when the cells ran out of the saved notebook's order (or it has no saved copy).

    `executed_cell_ids` are the ids of the cells this kernel ran, in the order it ran them; ids the
    saved notebook does not have (cells added since the last save) are ignored. Running a cell again,
    or skipping cells, is fine; running a cell above one that already ran is not.
    """
    path = Path(notebook_file)
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or []
    except FileNotFoundError:
        return (
            f"The notebook {path.name} has no saved copy at {path}, so the snapshot cannot hold it; "
            "history.py is the record of what ran."
        )
    except (OSError, ValueError, AttributeError) as exc:
        return f"The saved notebook {path} could not be read ({exc}); history.py is the record of what ran."
    positions = {
        cell["id"]: index for index, cell in enumerate(cells, 1) if isinstance(cell, dict) and cell.get("id")
    }
    latest = 0
    for cell_id in executed_cell_ids:
        position = positions.get(cell_id)
        if position is None:
            continue
        if position < latest:
            return (
                f"Cells ran out of notebook order: cell {position} (id {cell_id}) ran after cell "
                f"{latest}; replay history.py, not the notebook, to reproduce."
            )
        latest = position
    return None


def snapshot_files(run: Run) -> pd.DataFrame:
    """DataFrame(path, size, sha256) of the run's snapshot; ``attrs`` holds `skipped` and `warnings`."""
    import pandas as pd

    manifest = _manifest(run)
    files = [f for f in manifest.get("files") or [] if isinstance(f, dict)]
    frame = pd.DataFrame(
        {
            "path": [str(f.get("path")) for f in files],
            "size": [int(f.get("size") or 0) for f in files],
            "sha256": [str(f.get("sha256")) for f in files],
        }
    )
    frame.attrs["skipped"] = manifest.get("skipped")
    frame.attrs["warnings"] = list(manifest.get("warnings") or [])
    return frame


def restore_snapshot(run: Run, dest: str | os.PathLike[str]) -> Path:
    """Write the snapshot's files and its ``history.py`` under `dest` (created); returns `dest`.

    Existing files of the same names are replaced. When the snapshot itself has a ``history.py`` at
    its top, the replay script is written as ``mlws_history.py`` instead.
    """
    return restore_files(run.workspace.artifact_store, run.id, dest, _manifest(run))


# ----- storing -----------------------------------------------------------------------------------


def _store_file(store: ArtifactStore, path: str, st: os.stat_result) -> tuple[int, str, int]:
    """(size, sha256, 1 if a new blob was stored else 0) for one file; hashes only on a cache miss."""
    digest = _cached_digest(path, st)
    size = st.st_size
    if digest is None:
        with _open_file(path) as source:
            size, digest = hash_stream(source)
            after = os.fstat(source.fileno())
        if (after.st_size, after.st_mtime_ns, after.st_ino) == (size, st.st_mtime_ns, st.st_ino):
            if time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS:
                with _lock:
                    if len(_hashes) >= _CACHE_LIMIT:
                        _hashes.clear()
                    _hashes[path] = (size, st.st_mtime_ns, st.st_ino, digest)
    from ..store.artifacts import LocalArtifactStore

    remote = not isinstance(store, LocalArtifactStore)  # remote: remember digests seen stored
    if remote and digest in _known_blobs.get(store.url, ()):
        return size, digest, 0
    if store.has_blob(digest):
        new = 0
    else:
        with _open_file(path) as source:
            try:
                info = store.put_blob(source, sha256=digest)
            except InvalidParameter:  # the file changed since it was hashed: store what it holds now
                with _lock:
                    _hashes.pop(path, None)
                source.seek(0)
                info = store.put_blob(source)
        size, digest, new = info.size, info.sha256, 1
    if remote:
        with _lock:
            _known_blobs.setdefault(store.url, set()).add(digest)
    return size, digest, new


def _cached_digest(path: str, st: os.stat_result) -> str | None:
    with _lock:
        hit = _hashes.get(path)
    if hit is not None and hit[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
        return hit[3]
    return None


def _open_file(path: str) -> IO[bytes]:
    return os.fdopen(os.open(path, _OPEN_FLAGS), "rb")


# ----- reading back ------------------------------------------------------------------------------


def _manifest(run: Run) -> dict[str, Any]:
    run.workspace.settle(run.id)  # read your writes: wait for this run's pending finalizer work
    return read_manifest(run.workspace.artifact_store, run.id)
