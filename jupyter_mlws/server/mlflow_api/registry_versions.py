"""MLflow's model-version calls on our registry: create (copying the files), read, change, search.

An MLflow model version IS one of our versions: `ws.models.get("name:1")`, `ws.models.load`, the
panel and endpoints see it. Decisions:

- Create copies the files. `model-versions/create` names a `source` the workspace holds, and
  its files become the version's content-addressed blobs (`client/model_sources.store_run_files`:
  a file whose digest is already a blob costs a read), so the version keeps its bytes whatever
  later happens to the run. Sources: `models:/<model_id>` (an MLflow 3 logged model: the files at
  its artifact location), `mlflow-artifacts:/<experiment>/<run>/artifacts/<path>` (what MLflow 2
  sends), `runs:/<run>/<path>`, and `models:/<name>/<version|stage|latest>` or
  `models:/<name>@<alias>` (a new version with the same files and lineage). Anything else (a
  local path, `s3://`, another server's URI) is INVALID_PARAMETER_VALUE: the server copies only
  what it holds. The registered model must exist first, as in MLflow.
- Lineage: `source_run_id` / `source_path` are the run whose artifacts were copied and the path
  in it (for a logged model, the run that logged it); a `run_id` naming another run, or a
  `model_id` another logged model, is refused. The MLflow `source` and `model_id` are kept too
  (`registry_shapes.HIDDEN`), and a logged model gets MLflow's `mlflow.modelVersions` tag.
- Trust: a version made here is never trusted. Its flavor is detected from its files (`mlflow`
  for a folder with an `MLmodel`), and `ws.models.load` goes through the one loading gate: ONNX
  and skops load, a pickle or MLflow's python loaders wait for `ws.models.trust` (RELIABILITY S1,
  S2; models/mlflow_flavor.py). The signature is the MLmodel's column signature, where it has one.
- `get-download-uri` answers `mlflow-artifacts:/registry/<name>/<version>`: the version's own
  blobs, which MLflow's client lists and downloads through this server's artifact proxy
  (`registry_files.py`). Every version downloads, also one registered from local files through
  `ws.models` or one whose run's files changed since: always the bytes the registry recorded.
- Stages: deprecated in MLflow 3, yet its server still records them (`transition-stage`, with
  `archive_existing_versions`) and `get-latest-versions` reads them; so does this one, in the
  version tag `mlflow.current_stage`.
- `model-versions/search`: `name`, `run_id`, `source_path` (the source), `version_number` and
  `tags.<key>`; order by name, version_number, creation_timestamp, last_updated_timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...entities import ModelVersion
from ...errors import MLWSError, NotFound
from ...paths import safe_relative_path, safe_run_id
from ...store.base import MetadataStore
from ...validation import parse_model_ref, validate_model_name
from . import convert as c
from . import registry_shapes as s
from .base import MLflowError, invalid, missing
from .registry_files import download_uri

if TYPE_CHECKING:
    from ...store.artifacts import ArtifactStore

SEARCH_DEFAULT, SEARCH_MOST = 10_000, 200_000
_MODEL_VERSIONS_TAG = "mlflow.modelVersions"


@dataclass(frozen=True)
class _Source:
    """Where a new version's files are: a run's artifacts under `path`, or another version's files."""

    run_id: str | None
    path: str | None
    model_id: str | None = None
    copy_of: ModelVersion | None = None


def _bad_source(source: str, why: str) -> MLflowError:
    return invalid(f"Invalid model version source: '{source[:300]}'. {why}")


def _locate(store: MetadataStore, source: str) -> _Source:
    """The files a model version source names (module docstring)."""
    from .artifacts import check_run, split

    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if parts.netloc or parts.query or parts.fragment:
        raise _bad_source(source, "Name files this workspace holds, without a host "
                                  "(models:/, runs:/, mlflow-artifacts:/).")
    path = parts.path.strip("/")
    try:
        if scheme == "mlflow-artifacts":
            run_id, rel = split(path)
            check_run(store, path.split("/", 1)[0], run_id)  # the experiment in the URI is the run's
            return _Source(run_id, rel)
        if scheme == "runs":
            run, _, rel = path.partition("/")
            return _Source(safe_run_id(run), safe_relative_path(rel))
    except MLWSError as exc:  # the path helper's, split's and check_run's refusals
        raise _bad_source(source, exc.message) from None
    if scheme == "models" and path:
        if "/" not in path and "@" not in path:
            return _logged_model(store, source, path)
        return _registered(store, source, path)
    raise _bad_source(source, "Register files this workspace holds: models:/<model_id>, "
                              "runs:/<run_id>/<path>, "
                              "mlflow-artifacts:/<experiment>/<run_id>/artifacts/<path> "
                              "or models:/<name>/<version>.")


def _logged_model(store: MetadataStore, source: str, model_id: str) -> _Source:
    from .artifacts import split

    try:
        model = store.get_logged_model(model_id)
    except NotFound:
        raise _bad_source(source, f"No logged model with ID '{model_id[:80]}'.") from None
    location = model.artifact_location or ""
    if not location.startswith("mlflow-artifacts:/"):
        raise _bad_source(source, "The logged model has no files in this workspace yet.")
    run_id, rel = split(location.removeprefix("mlflow-artifacts:/").strip("/"))
    return _Source(run_id, rel, model_id=model.model_id)


def _registered(store: MetadataStore, source: str, path: str) -> _Source:
    if "@" in path and "/" not in path:
        name, _, alias = path.partition("@")
        from .registry import get_model_version_by_alias

        shown = get_model_version_by_alias(store, {"name": name, "alias": alias})["model_version"]
        version = s.get_version(store, name, int(shown["version"]))
    else:
        name, _, which = path.partition("/")
        validate_model_name(name)
        if which.isdigit():
            version = s.get_version(store, name, int(which))
        else:
            stages = [] if which.lower() == "latest" else [s.stage(which)]
            latest = s.latest_versions(store.list_model_versions(name), stages)
            if not latest:
                raise missing(f"No versions of model with name '{name}' and stage '{which[:40]}' found")
            version = max(latest, key=lambda v: v.version)
    return _Source(version.source_run_id, version.source_path,
                   model_id=version.tags.get(s.MODEL_ID_TAG), copy_of=version)


def create_model_version(store: MetadataStore, f: dict[str, Any], artifacts: ArtifactStore) -> dict[str, Any]:
    from ...client.model_sources import run_environment, store_run_files
    from ...client.models import Models

    name, source = s.model_name(f), str(c.required(f, "source"))
    s.get_model(store, name)
    tags = _version_tags(f.get("tags"))
    found = _locate(store, source)
    run_id, model_id = c.text(f, "run_id") or None, c.text(f, "model_id") or None
    if run_id and run_id != found.run_id:
        raise _bad_source(source, "The run_id request parameter must name the run that holds it "
                                  f"({found.run_id or 'none: these files are in no run'}).")
    if model_id and found.model_id and model_id != found.model_id:
        raise _bad_source(source, "The model_id request parameter must name the logged model it is.")
    lineage = found.run_id
    if lineage is not None:
        try:
            store.get_run_info(lineage)
        except NotFound:
            raise _bad_source(source, f"Run with id={lineage} not found.") from None
    signature: dict[str, Any] | None
    environment: dict[str, Any] | None
    if found.copy_of is not None:
        files, sha256, size = found.copy_of.files, found.copy_of.sha256, found.copy_of.size_bytes
        signature, environment = found.copy_of.signature, found.copy_of.environment
    else:
        assert found.run_id is not None and found.path is not None
        try:
            recorded = store.list_artifacts(found.run_id, found.path)  # what the proxy shows the client
            files, sha256, size = store_run_files(artifacts, found.run_id, found.path, recorded)
        except NotFound:
            raise _bad_source(source, f"Run {found.run_id} has no files under '{found.path}'.") from None
        signature, environment = _signature(artifacts, files), run_environment(artifacts, found.run_id)
    model_id = model_id or found.model_id
    tags[s.SOURCE_TAG] = source
    if model_id:
        tags[s.MODEL_ID_TAG] = model_id
    host = SimpleNamespace(store=store, artifact_store=artifacts)
    version = Models(host).record_version(  # type: ignore[arg-type]
        name, files=files, sha256=sha256, size=size, flavor=None, signature=signature,
        environment=environment, source_run_id=lineage, source_path=found.path, trusted=False,
        description=c.text(f, "description") or "", tags=tags,
    )
    if model_id:
        _link_logged_model(store, model_id, name, version.version)
    return {"model_version": s.version_json(version)}


def _version_tags(raw: Any) -> dict[str, str]:
    tags = s.tag_dict(raw)
    for key in tags:
        _settable(key)
    return tags


def _settable(key: str) -> str:
    if key in s.HIDDEN:
        raise invalid(f"Tag key '{key}' is reserved: this server keeps the version's MLflow "
                      "source, model_id and stage in it.")
    return key


def _signature(artifacts: ArtifactStore, files: Any) -> dict[str, Any] | None:
    """The MLmodel's column signature as ours; an unreadable MLmodel refuses the registration."""
    from ...models.mlflow_flavor import MAX_MLMODEL_BYTES, MLMODEL, parse_mlmodel, signature

    entry = next((f for f in files if f.path == MLMODEL), None)
    if entry is None:
        return None
    with artifacts.open_blob(entry.sha256) as handle:
        return signature(parse_mlmodel(handle.read(MAX_MLMODEL_BYTES + 1)))


def _link_logged_model(store: MetadataStore, model_id: str, name: str, version: int) -> None:
    """MLflow's `mlflow.modelVersions` tag on the logged model, as MLflow's server sets it."""
    try:
        model = store.get_logged_model(model_id)
    except NotFound:
        return
    try:
        linked = json.loads(model.tags.get(_MODEL_VERSIONS_TAG) or "[]")
    except ValueError:
        linked = []
    entry = {"name": name, "version": str(version)}
    if entry not in linked:
        store.set_logged_model_tags(model_id, {_MODEL_VERSIONS_TAG: json.dumps([*linked, entry])})


# ----- read, change, delete -------------------------------------------------------------------------
def _version(store: MetadataStore, f: dict[str, Any]) -> ModelVersion:
    return s.get_version(store, s.model_name(f), s.version_number(f))


def get_model_version(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return {"model_version": s.version_json(_version(store, f))}


def update_model_version(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    version = _version(store, f)
    if "description" in f:
        version = store.update_model_version(version.name, version.version,
                                             description=c.text(f, "description") or "")
    return {"model_version": s.version_json(version)}


def delete_model_version(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    version = _version(store, f)
    served = [e.name for e in store.list_endpoints()
              if any(parse_model_ref(d.model)[0] == version.name and d.version == version.version
                     for d in e.deployments)]
    if served:
        raise invalid(f"Cannot delete version {version.version} of model '{version.name}': endpoint(s) "
                      f"{', '.join(served)} serve it; deploy another version there first.")
    store.delete_model_version(version.name, version.version)
    return {}


def set_model_version_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    version, key = _version(store, f), _settable(str(c.required(f, "key")))
    tags = {**version.tags, key: "" if f.get("value") is None else str(f["value"])}
    store.update_model_version(version.name, version.version, tags=tags)
    return {}


def delete_model_version_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    version, key = _version(store, f), _settable(str(c.required(f, "key")))
    if key in version.tags:
        store.update_model_version(version.name, version.version,
                                   tags={k: v for k, v in version.tags.items() if k != key})
    return {}


def transition_model_version_stage(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    stage = s.stage(c.required(f, "stage"))
    version = _version(store, f)
    archive = str(f.get("archive_existing_versions", "")).lower() == "true"
    if archive and stage not in ("Staging", "Production"):
        raise invalid(f"Model version transition cannot archive existing model versions because '{stage}' "
                      "is not an Active stage. Valid stages are Staging, Production.")
    if archive:
        for other in store.list_model_versions(version.name):
            if other.version != version.version and s.current_stage(other) == stage:
                _set_stage(store, other, "Archived")
    return {"model_version": s.version_json(_set_stage(store, version, stage))}


def _set_stage(store: MetadataStore, version: ModelVersion, stage: str) -> ModelVersion:
    tags = {k: v for k, v in version.tags.items() if k != s.STAGE_TAG}
    if stage != "None":
        tags[s.STAGE_TAG] = stage
    return store.update_model_version(version.name, version.version, tags=tags)


def get_model_version_download_uri(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return {"artifact_uri": download_uri(_version(store, f))}


# ----- search ------------------------------------------------------------------------------------
_ATTRIBUTES = ("name", "run_id", "source_path", "version_number")


def search_model_versions(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    clauses = s.parse_filter(c.text(f, "filter"), _ATTRIBUTES, numeric=("version_number",))
    names = [m.name for m in store.list_registered_models()]
    exact = {cl.value for cl in clauses if not cl.tag and cl.key == "name" and cl.op == "="}
    if exact:
        names = [n for n in names if n in exact]
    found = []
    for name in names:
        for version in store.list_model_versions(name):
            seen = {"name": version.name, "run_id": version.source_run_id or "",
                    "source_path": s.source_of(version), "version_number": version.version}
            if s.matches(clauses, seen, version.tags):
                found.append(version)
    keys: dict[str, Callable[[ModelVersion], Any]] = {
        "name": lambda v: v.name, "version_number": lambda v: v.version,
        "creation_timestamp": lambda v: v.created_time, "last_updated_timestamp": lambda v: v.created_time,
    }
    found = s.sort(found, f.get("order_by"), keys, [("name", True), ("version_number", False)])
    shown, token = s.page(found, f, SEARCH_DEFAULT, SEARCH_MOST)
    answer: dict[str, Any] = {"model_versions": [s.version_json(v) for v in shown]}
    if token:
        answer["next_page_token"] = token
    return answer


create_model_version.needs_artifacts = True  # type: ignore[attr-defined]

OPERATIONS: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
    ("POST", "model-versions/create"): create_model_version,
    ("PATCH", "model-versions/update"): update_model_version,
    ("POST", "model-versions/transition-stage"): transition_model_version_stage,
    ("DELETE", "model-versions/delete"): delete_model_version,
    ("GET", "model-versions/get"): get_model_version,
    ("GET", "model-versions/search"): search_model_versions,
    ("GET", "model-versions/get-download-uri"): get_model_version_download_uri,
    ("POST", "model-versions/set-tag"): set_model_version_tag,
    ("DELETE", "model-versions/delete-tag"): delete_model_version_tag,
}
