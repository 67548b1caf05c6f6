"""`ws.models`: the model registry from Python (DESIGN.md §5).

Who calls it: users in notebooks (`ws.models.register("churn", "model.skops", example=df)`), the
server's register route and the CLI (helper C) through the same class, and `ws.endpoints` (helper B)
for `get`. The Workspace builds one `Models` per workspace (`ws.models`, a cached property).

Decisions:

- Registering = `models.files.collect` (local file/folder) or the run's artifacts under
  `artifact_path`, stored as content-addressed blobs (`models.files.store_files`; a run artifact
  whose digest is already a blob is not copied again), then ONE `store.create_model_version` call
  (the store numbers versions 1, 2, 3 in one transaction, safe under concurrency).
- The flavor is detected from the file names unless given, and the file the gate will load must
  exist (`flavors.entry_file`), so a folder that can never load is refused at registration.
- Environment: from the run's ``environment.json`` artifact when registering from a run (what the
  model was trained with), else this process's (`client/environment.capture_environment`), captured
  once per process and reused while the installed packages do not change (the ~20 ms of git calls
  and the ~0.5 s first package scan would otherwise dominate a register: target ≤ 20 ms).
- Lineage: ``source_run_id`` (its experiment and code snapshot are the run's) and ``source_path``
  (the artifact path in the run, or the absolute local path registered). A local path registered
  with ``run=`` (Azure ML's ``run.register_model(model_path=...)`` after training in a notebook)
  keeps both: the files are the local ones, the lineage and the environment are the run's.
  `path_label` (the server's register route) is the path as the user gave it: errors and the
  lineage name it, never the absolute path on the server's disk.
- Trust (see models/gate.py): ``trusted=True`` at registration, or later with `trust(ref)`, is what
  lets a pickle or python-flavor version load; ``trusted_types`` lists accepted skops types.
- `load` and `download` go through `models.files.materialize` (the verified cache under
  ``<workspace>/models-cache/<sha256>/``) and, for `load`, the one gate `models.gate.load_model`.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import Conflict, InvalidParameter
from ..validation import MODEL_FLAVORS, parse_model_ref, validate_alias, validate_model_name, validate_version
from .model_sources import process_environment, run_environment, store_run_files, type_names

if TYPE_CHECKING:
    import pandas as pd

    from ..entities import ModelVersion, RegisteredModel
    from ..location import WorkspaceLocation
    from ..models.gate import Predictor
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore
    from .run import Run

__all__ = ["Models", "RegistryHost"]


class RegistryHost(Protocol):
    """What `Models` needs of a workspace: a `Workspace`, or the server's stand-in (server/registry.py)."""

    @property
    def location(self) -> WorkspaceLocation: ...

    @property
    def store(self) -> MetadataStore: ...

    @property
    def artifact_store(self) -> ArtifactStore: ...

    def settle(self, run_id: str | None = None, timeout: float = 60.0) -> bool: ...


class Models:
    """The registry of one workspace (`ws.models`)."""

    def __init__(self, workspace: RegistryHost) -> None:
        self.workspace = workspace
        self.store = workspace.store

    def __repr__(self) -> str:
        return f"<Models of {self.workspace.location.workspace}>"

    @property
    def cache_root(self) -> Path:
        """Where verified copies of versions are materialized (see models/files.py)."""
        from ..models.files import cache_root

        return cache_root(self.workspace.location)

    # ----- registering --------------------------------------------------------------------------
    def register(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        run: Run | str | None = None,
        artifact_path: str | None = None,
        flavor: str | None = None,
        example: Any = None,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        trusted: bool = False,
        trusted_types: Sequence[str] | None = None,
        path_label: str | None = None,
    ) -> ModelVersion:
        """Register the next version of `name` from a local file/folder or from a run's artifacts.

        Give `path` (a local file or folder: its files are the version's), or `run` (a Run or run
        id) with `artifact_path` (the run's artifacts under that path). `path` with `run` and no
        `artifact_path` registers the local files with lineage to that run and its environment,
        as Azure ML's ``run.register_model`` does. `example` (a DataFrame, array, records or dict
        of columns) sets the signature. Returns the new ModelVersion.
        """
        from ..models.files import collect, store_files

        validate_model_name(name)
        if path is None and run is None:
            raise InvalidParameter(
                "Say where the model files are: path= (a local file or folder), or run= with "
                "artifact_path= (the model's path among the run's artifacts)."
            )
        if path is not None and artifact_path is not None:
            raise InvalidParameter(
                "Give path= (local files) or artifact_path= (a run's artifacts), not both; "
                "path= with run= registers the local files with lineage to that run."
            )
        if not isinstance(trusted, bool):
            raise InvalidParameter(f"trusted is True or False, not {trusted!r}.")
        types = type_names(trusted_types)
        artifacts = self.workspace.artifact_store
        run_id = None
        if run is not None:
            run_id = run if isinstance(run, str) else getattr(run, "run_id", None)
            if not isinstance(run_id, str):
                raise InvalidParameter(f"run= takes a Run or a run id, not {type(run).__name__}.")
            self.workspace.settle(run_id)
            self.store.get_run_info(run_id)  # NotFound for an unknown run, before touching files
        environment = None if run_id is None else run_environment(self.workspace.artifact_store, run_id)
        if path is not None:
            shown = os.fspath(path) if path_label is None else path_label
            files, sha256, size = store_files(artifacts, collect(path, label=shown))
            source_path = shown if path_label is not None else os.fspath(Path(path).expanduser().absolute())
        else:
            if not artifact_path:
                raise InvalidParameter(
                    "Registering from a run needs artifact_path= (the model's path in the run), "
                    "or path= (local files registered with lineage to the run)."
                )
            assert run_id is not None
            files, sha256, size = store_run_files(self.workspace.artifact_store, run_id, artifact_path)
            source_path = artifact_path
        signature = None
        if example is not None:
            from ..models.signature import infer_signature

            signature = infer_signature(example)
        return self.record_version(
            name,
            files=files,
            sha256=sha256,
            size=size,
            flavor=flavor,
            signature=signature,
            environment=environment if environment is not None else process_environment(),
            source_run_id=run_id,
            source_path=source_path,
            trusted=trusted,
            trusted_types=types,
            description=description,
            tags=tags,
        )

    def record_version(
        self,
        name: str,
        *,
        files: Sequence[Any],
        sha256: str,
        size: int,
        flavor: str | None,
        signature: Mapping[str, Any] | None,
        environment: Mapping[str, Any] | None,
        source_run_id: str | None,
        source_path: str | None,
        trusted: bool = False,
        trusted_types: Sequence[str] | None = None,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """The second half of `register`: files already stored as blobs become the next version.

        Picks and checks the flavor (the file the gate will load must exist), then ONE
        `store.create_model_version`. The server calls it for a version a client uploaded."""
        from ..models.flavors import detect_flavor, entry_file

        if not isinstance(trusted, bool):
            raise InvalidParameter(f"trusted is True or False, not {trusted!r}.")
        paths = {f.path for f in files}
        tag_text = {str(k): str(v) for k, v in (tags or {}).items()}
        chosen = flavor if flavor is not None else detect_flavor(paths, tag_text)
        if chosen not in MODEL_FLAVORS:
            raise InvalidParameter(f"Unknown model flavor {chosen!r}: one of {', '.join(MODEL_FLAVORS)}.")
        entry_file(chosen, paths, tag_text)
        return self.store.create_model_version(
            name,
            flavor=chosen,
            files=tuple(files),
            sha256=sha256,
            size_bytes=size,
            signature=signature,
            environment=environment,
            source_run_id=source_run_id,
            source_path=source_path,
            trusted=trusted,
            trusted_types=type_names(trusted_types),
            description=description,
            tags=tags,
        )

    # ----- reading ------------------------------------------------------------------------------
    def get(self, ref: str) -> ModelVersion:
        """The version `ref` names: "name" (latest), "name:3", "name@alias"."""
        return self.store.resolve_model(ref)

    def model(self, name: str) -> RegisteredModel:
        """The registered model `name` (description, tags, aliases, latest version)."""
        return self.store.get_registered_model(validate_model_name(name))

    def list(self) -> pd.DataFrame:
        """Every registered model: name, latest_version, aliases, description, tags, updated_time."""
        import pandas as pd

        rows = [m.to_dict() for m in self.store.list_registered_models()]
        columns = ["name", "latest_version", "aliases", "description", "tags", "created_time", "updated_time"]
        return pd.DataFrame(rows, columns=columns)

    def versions(self, name: str) -> pd.DataFrame:
        """The versions of `name`, newest first: version, flavor, sha256, size, aliases, trusted, lineage."""
        import pandas as pd

        columns = [
            "version",
            "flavor",
            "sha256",
            "size_bytes",
            "aliases",
            "trusted",
            "trusted_types",
            "source_run_id",
            "source_path",
            "description",
            "tags",
            "created_time",
        ]
        rows = [v.to_dict() for v in self.store.list_model_versions(validate_model_name(name))]
        return pd.DataFrame(rows, columns=columns)

    # ----- changing -----------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` (production, staging, any name) at `version`: set or moved."""
        self.store.set_model_alias(
            validate_model_name(name), validate_alias(alias), validate_version(version)
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias (NotFound when it is not set)."""
        self.store.delete_model_alias(validate_model_name(name), validate_alias(alias))

    def set_tags(self, ref: str, tags: Mapping[str, Any]) -> None:
        """Replace the tags of a model ("name") or of one version ("name:3" or "name@alias")."""
        name, version = self._target(ref)
        if version is None:
            self.store.update_registered_model(name, tags=dict(tags))
        else:
            self.store.update_model_version(name, version, tags=dict(tags))

    def describe(self, ref: str, description: str) -> None:
        """Set the description of a model ("name") or of one version ("name:3" or "name@alias")."""
        if not isinstance(description, str):
            raise InvalidParameter("A description is text.")
        name, version = self._target(ref)
        if version is None:
            self.store.update_registered_model(name, description=description)
        else:
            self.store.update_model_version(name, version, description=description)

    def trust(
        self, ref: str, trusted: bool = True, trusted_types: Sequence[str] | None = None
    ) -> ModelVersion:
        """Mark a version trusted (lets pickle / python flavors load) and/or accept skops types.

        Only do this for files whose origin you know: loading a trusted pickle runs its code.
        """
        if not isinstance(trusted, bool):
            raise InvalidParameter(f"trusted is True or False, not {trusted!r}.")
        version = self.get(ref)
        types = None if trusted_types is None else type_names(trusted_types)
        return self.store.update_model_version(
            version.name, version.version, trusted=trusted, trusted_types=types
        )

    def delete_version(self, name: str, version: int) -> None:
        """Forget one version (its aliases go too); its blobs stay (other versions may share them).

        Refused (Conflict, 409) while an endpoint serves it."""
        validate_model_name(name)
        self.store.get_model_version(name, validate_version(version))  # NotFound first
        self._refuse_if_served(name, version)
        self.store.delete_model_version(name, version)

    def delete(self, name: str) -> None:
        """Forget a model with all its versions and aliases; refused (409) while an endpoint serves one."""
        self.store.get_registered_model(validate_model_name(name))  # NotFound first
        self._refuse_if_served(name, None)
        self.store.delete_registered_model(name)

    def served_by(self, name: str, version: int | None = None) -> builtins.list[str]:
        """The endpoints with a deployment of model `name` (of `version`, when given)."""
        found = []
        for endpoint in self.store.list_endpoints():
            if any(
                parse_model_ref(d.model)[0] == name and (version is None or d.version == version)
                for d in endpoint.deployments
            ):
                found.append(endpoint.name)
        return found

    def _refuse_if_served(self, name: str, version: int | None) -> None:
        served = self.served_by(name, version)
        if served:
            what = f"Model {name!r}" if version is None else f"Version {version} of model {name!r}"
            raise Conflict(
                f"{what} is served by endpoint{'s' if len(served) > 1 else ''} {', '.join(served)}; "
                "delete the endpoint or deploy another version there first."
            )

    def _target(self, ref: str) -> tuple[str, int | None]:
        name, version, alias = parse_model_ref(ref)
        if alias is not None:
            return name, self.store.get_model_version_by_alias(name, alias).version
        return name, version

    # ----- using --------------------------------------------------------------------------------
    def load(self, ref: str) -> Predictor:
        """Load a version through the one gate (models/gate.py): `.predict(df)`."""
        from ..models.files import materialize
        from ..models.gate import load_model

        version = self.get(ref)
        folder = materialize(self.workspace.artifact_store, version, self.cache_root)
        return load_model(folder, version)

    def download(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a version's verified files into the folder `dest` (created); returns it."""
        from ..models.files import materialize

        version = self.get(ref)
        folder = materialize(self.workspace.artifact_store, version, self.cache_root)
        target = Path(dest).expanduser().absolute()
        shutil.copytree(folder, target, dirs_exist_ok=True)
        return target
