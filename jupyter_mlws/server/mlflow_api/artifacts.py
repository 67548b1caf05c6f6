"""MLflow's artifact proxy (`mlflow-artifacts`): a run's files through MLflow's client, streamed.

A run's `artifact_uri` is `mlflow-artifacts:/<experiment>/<run>/artifacts`; MLflow's client turns
that into `<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`
and PUTs, GETs and DELETEs files there, and lists a folder with `GET .../artifacts?path=...`.
Those are the run's own artifacts in our artifact store: the same bytes `ws.runs`, the panel and
`/mlws/api/v1/runs/{id}/artifacts` serve. Everything goes through what our artifact routes use
(`handlers/artifacts.py`, `handlers/uploads.py`): the one safe-path helper (`paths.py`), streamed
bodies (bounded memory), atomic commits, the record written after the bytes, downloads as
attachments. A path whose experiment is not the run's is not found.

Multipart uploads (`mpu/...`, what MLflow's client uses for large files when `server-info` offers
them) are in `multipart.py`.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ...entities import ArtifactRecord
from ...errors import NotFound
from ...paths import safe_prefix, safe_relative_path, safe_run_id
from ...store.atomic_write import CHUNK_SIZE
from ...store.base import MetadataStore
from ..handlers.artifacts import _delete, _disposition, _recorded, _run_lock, _size_of
from ..handlers.base import route
from ..handlers.uploads import StreamedUploadHandler
from . import convert as c
from . import registry_files
from .base import MLflowHandler, invalid, missing


def split(path: str) -> tuple[str, str]:
    """`<experiment>/<run>/artifacts/<rel>` as (run id, safe relative path)."""
    parts = path.split("/", 3)
    if len(parts) < 4 or parts[2] != "artifacts" or not parts[3]:
        raise invalid(f"Artifact path {path[:200]!r} is not <experiment id>/<run id>/artifacts/<path>.")
    c.experiment_id(parts[0])
    return safe_run_id(parts[1]), safe_relative_path(parts[3])


def check_run(store: MetadataStore, experiment: str, run_id: str) -> None:
    try:
        info = store.get_run_info(run_id)
    except NotFound:
        raise missing(f"Run with id={run_id} not found") from None
    if str(info.experiment_id) != experiment:
        raise missing(f"Run {run_id} is not in experiment {experiment}.")


def list_folder(store: MetadataStore, run_id: str, folder: str) -> list[dict[str, Any]]:
    """One level of a run's recorded artifacts under `folder` ('' = the top), MLflow's FileInfos."""
    prefix = safe_prefix(folder)
    return c.one_level(((r.path, r.size) for r in store.list_artifacts(run_id, prefix)), prefix)


def list_artifacts(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    """The tracking API's `artifacts/list` (run_id, path): paths relative to the run's root."""
    run_id = safe_run_id(str(f.get("run_id") or f.get("run_uuid") or ""))
    try:
        info = store.get_run_info(run_id)
    except NotFound:
        raise missing(f"Run with id={run_id} not found") from None
    folder = c.text(f, "path") or ""
    files = list_folder(store, run_id, folder)
    for item in files:
        item["path"] = posixpath.join(folder, item["path"]) if folder else item["path"]
    return {"root_uri": c.artifact_uri(info), "files": files}


class MLflowArtifactListHandler(MLflowHandler):
    """`GET .../mlflow-artifacts/artifacts?path=<experiment>/<run>/artifacts/<folder>`."""

    @route("MLflow artifact proxy: list a folder", tags=("mlflow",))
    async def get(self) -> None:
        raw = (self.fields().get("path") or "").strip("/")
        if raw.split("/", 1)[0] == registry_files.REGISTRY:  # a registered version's own files
            listed = await self.services.run(registry_files.list_folder, self.services.store, raw)
            self.reply({"files": listed})
            return
        parts = raw.split("/", 3) if raw else []
        if len(parts) < 3:
            self.reply(
                {"files": []} if len(parts) < 2 else {"files": [{"path": "artifacts", "is_dir": True}]}
            )
            return
        c.experiment_id(parts[0])
        run_id = safe_run_id(parts[1])
        if parts[2] != "artifacts":
            self.reply({"files": []})
            return
        store = self.services.store
        await self.services.run(check_run, store, parts[0], run_id)
        files = await self.services.run(list_folder, store, run_id, parts[3] if len(parts) > 3 else "")
        self.reply({"files": files})


class MLflowArtifactHandler(MLflowHandler, StreamedUploadHandler):
    """`.../mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`: GET, PUT, DELETE."""

    async def begin_upload(self) -> Any:
        registry_files.read_only(self.path_kwargs["path"])
        experiment = self.path_kwargs["path"].split("/", 1)[0]
        run, rel = split(self.path_kwargs["path"])
        await self.services.run(check_run, self.services.store, experiment, run)  # before any byte
        return await self.services.run(self.services.artifacts.begin_upload, run, rel)

    @route("MLflow artifact proxy: download a file (streamed)", tags=("mlflow",))
    async def get(self, path: str) -> None:
        if path.split("/", 1)[0] == registry_files.REGISTRY:  # a registered version's own files
            source, size, rel = await self.services.run(
                registry_files.open_file, self.services.store, self.services.artifacts, path
            )
        else:
            source, size, rel = await self._run_file(path)
        try:
            block = await self.services.run(source.read, CHUNK_SIZE)
            await self.stream_out(
                source, block, size, "application/octet-stream", _disposition("attachment", rel)
            )
        finally:
            await self.services.run(source.close)

    async def _run_file(self, path: str) -> tuple[Any, int, str]:
        run, rel = split(path)
        await self.services.run(check_run, self.services.store, path.split("/", 1)[0], run)
        try:
            source = await self.services.run(self.services.artifacts.open, run, rel)
        except NotFound:
            raise missing(f"No artifact {rel!r} in run {run}.") from None
        try:
            await self.services.run(_recorded, self.services.store, run, rel)
            return source, await self.services.run(_size_of, source), rel
        except BaseException:
            await self.services.run(source.close)
            raise

    @route("MLflow artifact proxy: upload a file (streamed, atomic)", tags=("mlflow",))
    async def put(self, path: str) -> None:
        upload = await self.take_upload()
        if upload is None:
            return  # already answered (too large, storage error)
        run, _ = split(path)
        async with _run_lock(run):
            info = await self.services.run(upload.commit, self.expected_sha256)
            record = ArtifactRecord(path=info.path, size=info.size, sha256=info.sha256)
            await self.services.run(self.services.store.record_artifact, run, record)
        self.reply({})

    @route("MLflow artifact proxy: delete a file or folder", tags=("mlflow",))
    async def delete(self, path: str) -> None:
        registry_files.read_only(path)
        run, rel = split(path)
        await self.services.run(check_run, self.services.store, path.split("/", 1)[0], run)
        async with _run_lock(run):
            await self.services.run(_delete, self.services.store, self.services.artifacts, run, rel)
        self.reply({})
