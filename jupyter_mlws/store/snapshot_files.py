"""Reading a run's code snapshot back out of the artifact store: the manifest, and its files
written under a folder with every blob's sha256 checked.

Who calls it: `client/snapshot.py` (`run.restore_snapshot(dest)`, `run.snapshot()`), and a job's
node (`jobs/node.py`), which materializes the snapshot a job was submitted with. The snapshot's
format and how it is taken are described in `client/snapshot.py`; this module only reads it, with
store-level parts, so that the job engine below the client can use it too.

Every file goes through `paths.resolve_under` (the one safe-path helper) and the atomic writer,
checking its digest on the way: a tampered manifest can neither write outside `dest` nor plant
different bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..paths import resolve_under, safe_relative_path
from .atomic_write import CHUNK_SIZE, StagedFile

if TYPE_CHECKING:
    from .artifacts import ArtifactStore

MANIFEST = "snapshot/manifest.json"
HISTORY = "snapshot/history.py"


def read_manifest(artifacts: ArtifactStore, run_id: str) -> dict[str, Any]:
    """The run's snapshot manifest; `NotFound` when it has none."""
    try:
        with artifacts.open(run_id, MANIFEST) as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except NotFound:
        raise NotFound(
            f"Run {run_id} has no code snapshot (it ran with --no-snapshot, or not through %%mlrun)."
        ) from None
    if not isinstance(manifest, dict):
        raise InvalidParameter(f"Run {run_id}'s snapshot manifest is not a JSON object.")
    return manifest


def restore_files(
    artifacts: ArtifactStore,
    run_id: str,
    dest: str | os.PathLike[str],
    manifest: dict[str, Any] | None = None,
    history: bool = True,
) -> Path:
    """Write the snapshot's files (and, with `history`, its ``history.py``) under `dest`."""
    manifest = manifest if manifest is not None else read_manifest(artifacts, run_id)
    if manifest.get("skipped"):
        raise NotFound(
            f"Run {run_id} has no code snapshot: {manifest['skipped']} Its execution history is "
            f"still there: run.download_artifacts({HISTORY!r}, dest)."
        )
    dest_root = Path(dest).expanduser().absolute()
    dest_root.mkdir(parents=True, exist_ok=True)
    paths = set()
    for entry in manifest.get("files") or []:
        rel, digest = entry.get("path"), entry.get("sha256")
        if not isinstance(rel, str) or not isinstance(digest, str):
            raise InvalidParameter(f"Run {run_id}'s snapshot manifest has a malformed entry: {entry!r:.200}")
        target = resolve_under(dest_root, rel, follow_final_link=False)
        paths.add(safe_relative_path(rel))
        with artifacts.open_blob(digest) as source:
            write_verified(target, source, rel, digest)
    if history:
        history_name = "mlws_history.py" if "history.py" in paths else "history.py"
        with artifacts.open(run_id, HISTORY) as source:
            write_verified(
                resolve_under(dest_root, history_name, follow_final_link=False), source, history_name
            )
    return dest_root


def write_verified(target: Path, source: IO[bytes], rel: str, expected: str | None = None) -> None:
    """Stream into `target` atomically; with `expected`, bytes that hash otherwise are refused."""
    staged = StagedFile(target.parent, rel)
    try:
        while chunk := source.read(CHUNK_SIZE):
            staged.write(chunk)
        staged.commit(target, expected)
    finally:
        staged.abort()
