"""A registered model version's own files through the `mlflow-artifacts` proxy, read-only.

`model-versions/get-download-uri` answers `mlflow-artifacts:/registry/<name>/<version>`, and MLflow's
client (`mlflow.pyfunc.load_model("models:/churn/3")`, `mlflow.artifacts.download_artifacts`)
lists and downloads that through the proxy's usual routes: `GET .../mlflow-artifacts/artifacts?path=
registry/<name>/<version>/<folder>` and `GET .../mlflow-artifacts/artifacts/registry/<name>/<version>/<file>`.

Decision: the files served are the version's content-addressed blobs (its manifest), not the run
it was registered from, so every version downloads — one registered from local files through
`ws.models.register`, one whose run's files were since deleted or changed — and always the exact
bytes the registry recorded. `registry` cannot be an experiment id (those are numbers), so these
paths never meet a run's. Writing or deleting here is refused: a version's files do not change.
"""

from __future__ import annotations

from typing import IO, Any

from ...entities import ModelVersion
from ...paths import safe_prefix, safe_relative_path
from ...store.base import MetadataStore
from ...validation.names import validate_model_name
from .base import invalid, missing
from .convert import one_level
from .registry_shapes import get_version

#: The first segment of a proxy path that names a registered version instead of a run.
REGISTRY = "registry"


def download_uri(version: ModelVersion) -> str:
    return f"mlflow-artifacts:/{REGISTRY}/{version.name}/{version.version}"


def _version(store: MetadataStore, name: str, number: str) -> ModelVersion:
    if not number.isdigit() or not 1 <= int(number) < 2**31:
        raise invalid(f"{number[:40]!r} is not a version number (1, 2, ...).")
    return get_version(store, validate_model_name(name), int(number))


def list_folder(store: MetadataStore, path: str) -> list[dict[str, Any]]:
    """MLflow's FileInfos one level under `registry/<name>/<version>[/<folder>]` ([] past a file)."""
    parts = path.split("/", 3)
    if len(parts) < 3:
        return []
    version = _version(store, parts[1], parts[2])
    prefix = safe_prefix(parts[3]) if len(parts) > 3 else ""
    return one_level(((item.path, item.size) for item in version.files), prefix)


def open_file(store: MetadataStore, artifacts: Any, path: str) -> tuple[IO[bytes], int, str]:
    """(an open blob, its size, its path in the version) for `registry/<name>/<version>/<file>`."""
    parts = path.split("/", 3)
    if len(parts) < 4:
        raise invalid(f"{path[:200]!r} is not registry/<model name>/<version>/<file>.")
    version = _version(store, parts[1], parts[2])
    rel = safe_relative_path(parts[3])
    for item in version.files:
        if item.path == rel:
            return artifacts.open_blob(item.sha256), item.size, rel
    raise missing(f"Version {version.version} of model '{version.name}' has no file {rel!r}.")


def read_only(path: str) -> None:
    """Refuse a write or delete under `registry/`."""
    if path.split("/", 1)[0] == REGISTRY:
        raise invalid("A registered model version's files cannot be changed; register a new version.")
