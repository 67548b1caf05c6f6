"""MLflow's multipart artifact uploads through the proxy (`mlflow-artifacts/mpu/...`).

MLflow's client (3.x; 2.x when `MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`) uploads a large file
(`MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`, 500 MB by default) in parts when the server says it
can (`server-info`: `multipart_uploads_enabled`):

1. `POST .../mlflow-artifacts/mpu/create/<experiment>/<run>/artifacts[/<folder>]` with
   `{"path": <file name>, "num_parts": N}` → `{"upload_id", "credentials": [{"part_number",
   "url", "headers"}]}`;
2. `PUT <url>` with the part's bytes and the credential's headers, in parallel; the answer's
   `ETag` is kept;
3. `POST .../mpu/complete/...` with `{"path", "upload_id", "parts": [{"part_number", "etag"}]}`,
   or `POST .../mpu/abort/...` with `{"path", "upload_id"}` when a part failed.

Here each part URL is a route of this server (`mpu/part/<upload id>/<n>`), not a presigned URL of
a cloud store, so a part is authenticated and authorized like every route: the credential's
headers carry the `Authorization` header the create request came with (the caller's own
credential, sent back to that caller only; a create made with a cookie instead is answered 501,
which MLflow's client takes as "no multipart here" and PUTs the file whole). A part streams into
a hidden staged file under the workspace folder (`uploads/<upload id>/`: bounded memory, any
size up to the upload limit), its ETag is its sha256. `complete` checks that every part 1..N
arrived with the ETag the client names, then streams them in order into the run's artifact
through the artifact store's atomic upload (nothing visible until the whole file is in) and
records it; `abort`, an expired upload (`UPLOAD_TTL_S` without a call) or a failed complete
removes the staged parts. Uploads live in this server process: a restart forgets them, and the
client's complete then fails with RESOURCE_DOES_NOT_EXIST (its file is not stored half); their
parts are removed by a later create once a day old.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...entities import ArtifactRecord
from ...paths import safe_relative_path
from ...store.artifacts import ArtifactUpload
from ...store.atomic_write import CHUNK_SIZE, StagedFile
from ..handlers.artifacts import _run_lock
from ..handlers.base import route
from ..handlers.uploads import StreamedUploadHandler
from .artifacts import check_run, split
from .base import MLflowError, MLflowHandler, invalid, missing

#: The most parts one upload may have (S3's limit, which MLflow's chunking is built for).
MAX_PARTS = 10_000
#: An upload no call touched for this long is forgotten and its parts removed.
UPLOAD_TTL_S = 24 * 3600.0


@dataclass
class _Upload:
    upload_id: str
    experiment: str
    run: str
    rel: str
    num_parts: int
    folder: Path
    parts: dict[int, str] = field(default_factory=dict)  # part number -> sha256 (its ETag)
    touched: float = field(default_factory=time.monotonic)


class _Uploads:
    """The open uploads of this server process, by id (thread-safe: parts commit on pool threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, _Upload] = {}

    def add(self, upload: _Upload) -> None:
        with self._lock:
            self._open[upload.upload_id] = upload

    def get(self, upload_id: str, experiment: str | None = None, run: str | None = None) -> _Upload:
        with self._lock:
            upload = self._open.get(upload_id)
        if upload is None or (run is not None and (upload.run, upload.experiment) != (run, experiment)):
            raise missing(f"No multipart upload {upload_id[:64]!r} is open for this artifact.")
        upload.touched = time.monotonic()
        return upload

    def known(self, upload_id: str) -> bool:
        with self._lock:
            return upload_id in self._open

    def holds(self, upload: _Upload) -> bool:
        with self._lock:
            return self._open.get(upload.upload_id) is upload

    def pop(self, upload_id: str) -> _Upload | None:
        with self._lock:
            return self._open.pop(upload_id, None)

    def expired(self, now: float) -> list[_Upload]:
        with self._lock:
            gone = [u for u in self._open.values() if now - u.touched > UPLOAD_TTL_S]
            for upload in gone:
                del self._open[upload.upload_id]
        return gone


UPLOADS = _Uploads()


def _discard(upload: _Upload | None) -> None:
    if upload is not None:
        shutil.rmtree(upload.folder, ignore_errors=True)


def _staging(location: Any) -> Path:
    """Where parts wait: the workspace folder when it is local, else this machine's temp folder."""
    if location.is_local:
        return Path(location.workspace) / "uploads"
    return Path(tempfile.gettempdir()) / "mlws-uploads"


def _sweep_orphans(staging: Path) -> None:
    """Remove the parts of uploads a restarted server forgot, once they are a day old."""
    if not staging.is_dir():
        return
    cutoff = time.time() - UPLOAD_TTL_S
    for folder in staging.iterdir():
        try:
            stale = folder.stat().st_mtime < cutoff and not UPLOADS.known(folder.name)
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)


def _target(path: str, fields: dict[str, Any]) -> tuple[str, str, str]:
    """(experiment, run, artifact path) of a create/complete/abort: the URL's folder + `path`'s name."""
    name = str(fields.get("path") or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise invalid("A multipart upload needs 'path', the file's name.")
    full = path.strip("/")
    if full.count("/") < 2:
        raise invalid(f"Artifact path {path[:200]!r} is not <experiment id>/<run id>/artifacts[/<folder>].")
    run, rel = split(f"{full}/{name}")
    return full.split("/", 1)[0], run, safe_relative_path(rel)


def _part_number(value: Any, num_parts: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not 1 <= number <= num_parts:
        raise invalid(f"part_number must be a whole number from 1 to {num_parts}.")
    return number


def _assemble(upload: _Upload, parts: list[Any], artifacts: Any) -> Any:
    """Check the client's part list against what arrived, then write the whole file atomically."""
    if not isinstance(parts, list) or len(parts) != upload.num_parts:
        raise invalid(f"'parts' must list all {upload.num_parts} parts of the upload.")
    named: dict[int, str] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise invalid("Each of 'parts' is an object with part_number and etag.")
        number = _part_number(part.get("part_number"), upload.num_parts)
        named[number] = str(part.get("etag") or "").strip('"')
    for number in range(1, upload.num_parts + 1):
        got = upload.parts.get(number)
        if got is None:
            raise invalid(f"Part {number} of {upload.num_parts} was never uploaded.")
        if named.get(number) != got:
            raise invalid(f"Part {number}'s ETag is not the one this server gave it.")
    target: ArtifactUpload = artifacts.begin_upload(upload.run, upload.rel)
    try:
        for number in range(1, upload.num_parts + 1):
            with open(upload.folder / f"part-{number}", "rb") as source:
                while block := source.read(CHUNK_SIZE):
                    target.write(block)
        return target.commit()
    except BaseException:
        target.abort()
        raise


class MLflowMultipartHandler(MLflowHandler):
    """`POST .../mlflow-artifacts/mpu/{create,complete,abort}/<experiment>/<run>/artifacts[/...]`."""

    @route("MLflow artifact proxy: multipart upload create, complete, abort", tags=("mlflow",))
    async def post(self, action: str, path: str) -> None:
        if action not in ("create", "complete", "abort"):
            raise MLflowError("ENDPOINT_NOT_FOUND", f"No MLflow endpoint mpu/{action[:40]!r} on this server.")
        fields = self.fields()
        experiment, run, rel = _target(path, fields)
        await self.services.run(check_run, self.services.store, experiment, run)
        for stale in UPLOADS.expired(time.monotonic()):
            await self.services.run(_discard, stale)
        if action == "create":
            self.reply(await self._create(experiment, run, rel, fields))
            return
        upload_id = str(fields.get("upload_id") or "")
        upload = UPLOADS.get(upload_id, experiment, run)
        if upload.rel != rel:
            raise missing(f"No multipart upload {upload_id[:64]!r} is open for {rel!r}.")
        if action == "abort":
            await self.services.run(_discard, UPLOADS.pop(upload_id))
            self.reply({})
            return
        async with _run_lock(run):
            if not UPLOADS.holds(upload):  # completed or aborted by a call that held the lock first
                raise missing(f"No multipart upload {upload_id[:64]!r} is open for {rel!r}.")
            try:
                info = await self.services.run(
                    _assemble, upload, fields.get("parts"), self.services.artifacts
                )
            except MLflowError:
                raise  # a wrong part list: the parts stay, the client may abort or try again
            except BaseException:
                await self.services.run(_discard, UPLOADS.pop(upload_id))
                raise
            record = ArtifactRecord(path=info.path, size=info.size, sha256=info.sha256)
            await self.services.run(self.services.store.record_artifact, run, record)
        await self.services.run(_discard, UPLOADS.pop(upload_id))
        self.reply({})

    async def _create(self, experiment: str, run: str, rel: str, fields: dict[str, Any]) -> dict[str, Any]:
        credential = self.request.headers.get("Authorization", "")
        if not credential:
            raise MLflowError(
                "NOT_IMPLEMENTED",
                "Multipart uploads need an Authorization header (a token) to authorize each part; "
                "PUT the file whole instead.",
            )
        try:
            num_parts = int(fields.get("num_parts", 1))
        except (TypeError, ValueError):
            num_parts = 0
        if isinstance(fields.get("num_parts"), bool) or not 1 <= num_parts <= MAX_PARTS:
            raise invalid(f"num_parts must be a whole number from 1 to {MAX_PARTS}.")
        upload_id = secrets.token_hex(16)
        staging = _staging(self.services.location)
        await self.services.run(_sweep_orphans, staging)
        folder = staging / upload_id
        UPLOADS.add(_Upload(upload_id, experiment, run, rel, num_parts, folder))
        base = f"{self.request.protocol}://{self.request.host}{self.base_url}mlws/mlflow/api/2.0"
        credentials = [
            {
                "part_number": n,
                "url": f"{base}/mlflow-artifacts/mpu/part/{upload_id}/{n}",
                "headers": {"Authorization": credential},
            }
            for n in range(1, num_parts + 1)
        ]
        return {"upload_id": upload_id, "credentials": credentials}


class MLflowUploadPartHandler(MLflowHandler, StreamedUploadHandler):
    """`PUT .../mlflow-artifacts/mpu/part/<upload id>/<n>`: one part, streamed to a staged file."""

    async def begin_upload(self) -> Any:
        upload = UPLOADS.get(self.path_kwargs["upload_id"])
        number = _part_number(self.path_kwargs["part"], upload.num_parts)
        staged = StagedFile(upload.folder, f"part {number}")
        self._part = (upload, number)

        def finish(staged: StagedFile, expected: str | None) -> tuple[int, str]:
            return staged.commit(upload.folder / f"part-{number}", expected)

        return ArtifactUpload(f"part-{number}", staged, finish)

    @route("MLflow artifact proxy: one part of a multipart upload (streamed)", tags=("mlflow",))
    async def put(self, upload_id: str, part: str) -> None:
        upload_part = await self.take_upload()
        if upload_part is None:
            return  # already answered (too large, storage error)
        upload, number = self._part
        info = await self.services.run(upload_part.commit, self.expected_sha256)
        if not UPLOADS.holds(upload):  # aborted meanwhile: drop what was written
            await self.services.run(_discard, upload)
            raise missing(f"The multipart upload {upload_id!r} was aborted.")
        upload.parts[number] = info.sha256
        self.set_header("ETag", f'"{info.sha256}"')
        self.reply({})
