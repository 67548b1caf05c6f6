"""Where a model version's files and environment come from (helpers of `client/models.py`).

- `store_run_files`: a run's artifacts under a path, as blobs of the artifact store;
- `run_environment`: the environment a run recorded, which a version registered from it keeps;
- `process_environment`: this process's environment, captured once and reused while the installed
  packages do not change (the ~20 ms of git calls and the ~0.5 s first package scan would
  otherwise dominate a register);
- `type_names`: a checked list of skops type names.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from ..store.artifacts import ArtifactStore

_env_lock = threading.Lock()
_env_cache: tuple[Any, dict[str, Any]] | None = None


def store_run_files(
    artifacts: ArtifactStore, run_id: str, artifact_path: str, recorded: Sequence[Any] | None = None
) -> tuple[Any, str, int]:
    """A run's artifacts under `artifact_path` as blobs (copied only when new): (files, digest, size).

    `recorded`: the run's artifact records under that path (`store.list_artifacts`), when the caller
    has them: their path, size and sha256 stand for a listing of the files (no stat or realpath per
    file); a file whose blob is missing is still copied from the run, and checked against its sha256.
    """
    from ..entities import ModelFile
    from ..models.files import manifest_sha256
    from ..paths import safe_relative_path

    prefix = safe_relative_path(artifact_path)
    if recorded is None:
        infos = artifacts.list(run_id, prefix)
    else:
        infos = [r for r in recorded if r.path == prefix or r.path.startswith(prefix + "/")]
    if not infos:
        raise NotFound(f"Run {run_id!r} has no artifact {prefix!r} to register.")
    files = []
    for info in infos:
        rel = info.path.rsplit("/", 1)[-1] if info.path == prefix else info.path[len(prefix) + 1 :]
        if not artifacts.has_blob(info.sha256):
            with artifacts.open(run_id, info.path) as source:
                artifacts.put_blob(source, sha256=info.sha256)
        files.append(ModelFile(path=safe_relative_path(rel), size=info.size, sha256=info.sha256))
    files.sort(key=lambda f: f.path)
    return tuple(files), manifest_sha256(files), sum(f.size for f in files)


def run_environment(artifacts: ArtifactStore, run_id: str) -> dict[str, Any] | None:
    """The environment a run recorded (its `environment.json`), or None."""
    from .environment import ENVIRONMENT_ARTIFACT

    try:
        with artifacts.open(run_id, ENVIRONMENT_ARTIFACT) as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (NotFound, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def type_names(types: Sequence[str] | None) -> tuple[str, ...]:
    if types is None:
        return ()
    if isinstance(types, str) or not all(isinstance(t, str) and t for t in types):
        raise InvalidParameter("trusted_types is a list of type names such as ['sklearn.tree._tree.Tree'].")
    return tuple(sorted(set(types)))


def process_environment() -> dict[str, Any]:
    """This process's environment, captured once and reused while the installed packages stay the same."""
    global _env_cache
    from .environment import _path_stamp, capture_environment

    key = (os.getcwd(), _path_stamp())
    with _env_lock:
        if _env_cache is not None and _env_cache[0] == key:
            return _env_cache[1]
    env = capture_environment()
    with _env_lock:
        _env_cache = (key, env)
    return env
