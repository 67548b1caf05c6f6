"""`ws.data`: data assets — named, versioned sets of files, content-addressed like model versions.

Who calls it: users (`ws.data.register("batch-data", path="data/*.csv")`, `ws.data.get("batch-data:2")`),
`ws.jobs.submit(inputs={"data": "data:batch-data"})` (a job input resolved to a pinned version and
materialized on the node) and `jupyter mlws data ...`.

Decisions (docs/data.md says the same for users):
- `path` is a folder (walked as a model folder is: links leaving it, devices and `__pycache__`
  refused or skipped), one file, a glob (`data/*.csv`, `data/**/*.parquet`: paths are kept relative
  to the folder before the first wildcard) or an fsspec URL (`s3://bucket/prefix/`,
  `s3://bucket/*.csv`, `https://host/file.csv`, `memory://...`: read once, hashed, stored).
- Content-addressed (`models/files.py`): every file is a blob named by its sha256, so unchanged bytes
  are stored once across versions and assets; a version is its manifest (path, size, sha256) and
  the manifest's digest. Registering files identical to the newest version returns that version
  (no new number): a version names different content, as in DVC; a changed file makes the next one.
- References: "name" and "name@latest" are the newest version, "name:3" version 3 (Azure ML's
  `azureml:name:3`, without the prefix). A job takes `"data:" + ref` as an input; its run gets the tag
  `mlws.data.<input>` = "name:version" and `mlws.data` listing every version it read (the lineage:
  `ws.data.runs("name:3")` finds the runs that read a version).
- `path(ref)` is a verified local copy (rebuilt from the blobs when edited, as for models), under
  `<workspace>/data-cache` or `$XDG_CACHE_HOME/jupyter_mlws/data-cache`; `download(ref, dest)`
  copies the files to a folder of the user's.
"""

from __future__ import annotations

import glob as globbing
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import DataVersion
from ..errors import InvalidParameter, NotFound
from ..models.files import MAX_FILES
from ..paths import safe_relative_path

if TYPE_CHECKING:
    import pandas as pd

    from .workspace import Workspace

_REF = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>\d+)|@(?P<alias>latest))?\Z")
_WILDCARDS = set("*?[")


def parse_data_ref(ref: str) -> tuple[str, int | None]:
    """("name", version or None for the newest) from "name", "name:3" or "name@latest"."""
    text = ref[5:] if isinstance(ref, str) and ref.startswith("data:") else ref
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InvalidParameter(f"A data reference is 'name', 'name:version' or 'name@latest', not {ref!r}.")
    version = match.group("version")
    return match.group("name"), int(version) if version else None


class DataAssets:
    """`ws.data` (see the module docstring)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def register(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        description: str = "",
        tags: dict[str, Any] | None = None,
    ) -> DataVersion:
        """Store the files `path` names as the next version of `name` (or return the newest version
        when its files are these)."""
        from ..models.files import store_files
        from ..validation import validate_data_name

        validate_data_name(name)
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        source = os.fspath(path)
        with tempfile.TemporaryDirectory(prefix="mlws-data-") as scratch:
            collected = _collect(source, Path(scratch))
            files, digest, size = store_files(self.workspace.artifact_store, collected)
        store = self.workspace.store
        try:
            newest = store.get_data_version(name)
        except NotFound:
            newest = None
        if newest is not None and newest.sha256 == digest:
            return newest
        from .fluent import active_run

        try:
            run = active_run()
        except NotFound:
            run = None
        return store.create_data_version(
            name,
            files=files,
            sha256=digest,
            size_bytes=size,
            source=source,
            description=description,
            tags=tags,
            source_run_id=run.id if run is not None else None,
        )

    def get(self, ref: str) -> DataVersion:
        """The version `ref` names: "name", "name@latest" or "name:3"."""
        name, version = parse_data_ref(ref)
        return self.workspace.store.get_data_version(name, version)

    def list(self) -> pd.DataFrame:
        """One row per data asset: name, latest_version, description, created, updated."""
        import pandas as pd

        rows = [
            {
                "name": a.name,
                "latest_version": a.latest_version,
                "description": a.description,
                "created": pd.to_datetime(a.created_time, unit="ms", utc=True),
                "updated": pd.to_datetime(a.updated_time, unit="ms", utc=True),
            }
            for a in self.workspace.store.list_data_assets()
        ]
        return pd.DataFrame(rows, columns=["name", "latest_version", "description", "created", "updated"])

    def versions(self, name: str) -> pd.DataFrame:
        """One row per version of `name`: version, files, size_bytes, sha256, source, created."""
        import pandas as pd

        rows = [
            {
                "version": v.version,
                "files": len(v.files),
                "size_bytes": v.size_bytes,
                "sha256": v.sha256,
                "source": v.source,
                "source_run_id": v.source_run_id,
                "created": pd.to_datetime(v.created_time, unit="ms", utc=True),
            }
            for v in self.workspace.store.list_data_versions(name)
        ]
        columns = ["version", "files", "size_bytes", "sha256", "source", "source_run_id", "created"]
        return pd.DataFrame(rows, columns=columns)

    def files(self, ref: str) -> pd.DataFrame:
        """DataFrame(path, size, sha256) of the version's files."""
        import pandas as pd

        version = self.get(ref)
        return pd.DataFrame([f.to_dict() for f in version.files], columns=["path", "size", "sha256"])

    def runs(self, ref: str) -> pd.DataFrame:
        """The runs that read this version (jobs given it as an input), as `ws.runs` returns them."""
        from .jobs import DATA_LINEAGE_TAG

        version = self.get(ref)
        found = self.workspace.runs(filter=f"tags.{DATA_LINEAGE_TAG} like '% {version.ref} %'")
        column = f"tags.{DATA_LINEAGE_TAG}"
        if found.empty or column not in found.columns:
            return found
        # LIKE reads '_' in a name as any one character: keep the runs whose list names it exactly
        exact = found[column].map(lambda listed: version.ref in str(listed).split())
        return found[exact].reset_index(drop=True)

    def path(self, ref: str) -> Path:
        """A verified local copy of the version's files (read-only; see the module docstring)."""
        from ..models.files import cache_root, materialize

        folder = cache_root(self.workspace.location, "data-cache")
        return materialize(self.workspace.artifact_store, self.get(ref), folder)

    def download(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Copy the version's files under `dest` (created); returns `dest`."""
        source = self.path(ref)
        target = Path(dest).expanduser().absolute()
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, dirs_exist_ok=True)
        return target


def _collect(source: str, scratch: Path) -> list[tuple[str, Path]]:
    """[(relative path, local file)] for a folder, a file, a glob or an fsspec URL."""
    from ..models.files import collect

    if "://" in source:
        return _collect_url(source, scratch)
    if _WILDCARDS & set(source):
        return _collect_glob(source)
    return collect(source)


def _collect_glob(pattern: str) -> list[tuple[str, Path]]:
    expanded = os.path.expanduser(pattern)
    matches = sorted(p for p in globbing.glob(expanded, recursive=True) if os.path.isfile(p))
    if not matches:
        raise NotFound(f"The pattern {pattern!r} matches no files.")
    _check_limits(pattern, len(matches), sum(os.path.getsize(p) for p in matches))
    base = _static_prefix(expanded)
    out = []
    for match in matches:
        rel = os.path.relpath(match, base) if base else match
        out.append((safe_relative_path(Path(rel).as_posix()), Path(match).resolve()))
    return out


def _check_limits(source: str, count: int, total: int) -> None:
    """The limits of a model folder (models/files.py) for a glob or a URL, before anything is read."""
    from ..models.files import MAX_FILES, MAX_TOTAL_BYTES

    if count > MAX_FILES:
        raise InvalidParameter(f"{source!r} matches {count} files, more than {MAX_FILES}; refused.")
    if total > MAX_TOTAL_BYTES:
        raise InvalidParameter(
            f"{source!r} holds {total} bytes, more than {MAX_TOTAL_BYTES // 1024**3} GiB; refused."
        )


def _static_prefix(pattern: str) -> str:
    """The folder before the first wildcard: "data/2024/*.csv" -> "data/2024"."""
    cut = min(i for i, ch in enumerate(pattern) if ch in _WILDCARDS)
    return os.path.dirname(pattern[:cut])


def _collect_url(url: str, scratch: Path) -> list[tuple[str, Path]]:
    """A folder URL is walked, a URL with wildcards globbed, a file URL read; each file once."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as err:
        raise InvalidParameter(f"Cannot read {url!r}: {err}") from None
    if _WILDCARDS & set(path):
        remote = sorted(p for p in fs.glob(path) if not fs.isdir(p))
        base = _static_prefix(path)
    elif fs.isdir(path):
        remote = sorted(fs.find(path))
        base = path.rstrip("/")
    elif fs.exists(path):
        remote, base = [path], os.path.dirname(path)
    else:
        raise NotFound(f"Nothing at {url!r}.")
    if not remote:
        raise NotFound(f"The URL {url!r} matches no files.")
    _check_limits(url, len(remote), sum(int(fs.size(item) or 0) for item in remote[: MAX_FILES + 1]))
    out = []
    for index, item in enumerate(remote):
        rel = safe_relative_path(item[len(base) :].lstrip("/") if base and item.startswith(base) else item)
        local = scratch / f"{index:06d}"
        with fs.open(item, "rb") as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        out.append((rel, local))
    return out
