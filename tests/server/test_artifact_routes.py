"""The artifact routes over real HTTP: streamed upload and download, checksums, limits, cleanup.

Every request goes through a real jupyter_server (pytest-jupyter) into the real SQLite store and the
real artifact folder; bodies are streamed with `body_producer` and read with `streaming_callback`.
Aborted uploads (C7) and a disk error (K6) are here; anonymous and cross-origin requests (A2, A4) and
the traversal corpus (P1) are in `test_artifact_security.py`; the 1 GB memory measurement is in
`test_artifact_memory.py`.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from tornado.httpclient import HTTPResponse

MIB = 1024 * 1024


class Artifacts:
    """HTTP calls to one run's artifact routes, with the server's token unless told otherwise."""

    def __init__(self, client: Any, base_url: str, auth: dict[str, str], run_id: str, root: Path) -> None:
        self.client, self.auth, self.run_id = client, auth, run_id
        self.prefix = f"{base_url.rstrip('/')}/mlws/api/v1/runs/{run_id}/artifacts"
        #: The run's folder in the artifact store, where its files (and any temp file) live.
        self.folder = root / ".mlws" / "artifacts" / run_id / "artifacts"

    async def call(self, method: str, path: str = "", **kwargs: Any) -> HTTPResponse:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        url = f"{self.prefix}/{path}" if path else self.prefix
        kwargs.setdefault("request_timeout", 120)
        return await self.client.fetch(
            url, method=method, headers=headers, raise_error=False, allow_nonstandard_methods=True, **kwargs
        )

    async def put(self, path: str, data: bytes, piece: int = 100_000, **kwargs: Any) -> HTTPResponse:
        """A streamed (chunked) upload of `data`, handed to the client in `piece`-sized writes."""
        return await self.call("PUT", path, body_producer=producer_of(data, piece), **kwargs)

    async def get(self, path: str, **kwargs: Any) -> tuple[HTTPResponse, bytes]:
        """A streamed download: the body is collected from `streaming_callback` pieces."""
        pieces: list[bytes] = []
        response = await self.call("GET", path, streaming_callback=pieces.append, **kwargs)
        return response, b"".join(pieces)

    async def listing(self, prefix: str | None = None) -> list[dict[str, Any]]:
        url = self.prefix if prefix is None else f"{self.prefix}?prefix={prefix}"
        response = await self.client.fetch(url, headers=self.auth, raise_error=False)
        assert response.code == 200, response.body
        return json.loads(response.body)["artifacts"]  # type: ignore[no-any-return]

    def leftovers(self) -> list[str]:
        """Files in the run's folder that a user could never name (temp files of uploads)."""
        if not self.folder.exists():
            return []
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob(".mlws-part-*"))


def producer_of(data: bytes, piece: int) -> Callable[[Any], Any]:
    async def produce(write: Callable[[bytes], Any]) -> None:
        for start in range(0, len(data), piece):
            await write(data[start : start + piece])

    return produce


def error_of(response: HTTPResponse) -> dict[str, str]:
    """The JSON error body; checks the one error shape (no traceback, JSON content type)."""
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert set(body) == {"error", "message"} and "Traceback" not in body["message"]
    return body  # type: ignore[no-any-return]


async def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 20.0) -> None:
    """Poll until `condition()` holds (cleanup runs in the background after a disconnect)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        assert loop.time() < end, f"still waiting for: {what}"
        await asyncio.sleep(0.05)


def make_run(serverapp: Any) -> str:
    store = serverapp.web_app.settings["mlws_services"].store
    experiment = store.get_or_create_experiment("artifact-routes")
    return str(store.create_run(experiment.experiment_id, name="uploads").info.run_id)


@pytest.fixture
def arts(jp_serverapp, http_server_client, jp_base_url, jp_auth_header, jp_root_dir) -> Artifacts:
    return Artifacts(http_server_client, jp_base_url, jp_auth_header, make_run(jp_serverapp), jp_root_dir)


def payload(size: int) -> bytes:
    """Random bytes: a lost, doubled or reordered piece changes the hash."""
    return os.urandom(size)


async def test_streamed_round_trip_keeps_every_byte(arts: Artifacts) -> None:
    data = payload(5 * MIB + 12345)
    response = await arts.put("models/model.bin", data, piece=300_001)
    assert response.code == 201, response.body
    info = json.loads(response.body)
    assert info == {"path": "models/model.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert response.headers["ETag"] == f'"{info["sha256"]}"'

    assert await arts.listing() == [info]
    got, body = await arts.get("models/model.bin")
    assert got.code == 200 and body == data
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="model.bin"')
    assert got.headers["Content-Length"] == str(len(data))
    assert got.headers["ETag"] == f'"{info["sha256"]}"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert (arts.folder / "models" / "model.bin").read_bytes() == data
    assert arts.leftovers() == []

    cached, body = await arts.get("models/model.bin", headers={"If-None-Match": got.headers["ETag"]})
    assert cached.code == 304 and body == b""


async def test_a_put_replaces_the_artifact_and_its_record(arts: Artifacts) -> None:
    first, second = b"version one", b"version two, longer"
    assert (await arts.put("notes.txt", first)).code == 201
    sha = hashlib.sha256(second).hexdigest()
    response = await arts.put("notes.txt", second, headers={"X-MLWS-SHA256": sha.upper()})
    assert response.code == 201
    assert await arts.listing() == [{"path": "notes.txt", "size": len(second), "sha256": sha}]
    assert (await arts.get("notes.txt"))[1] == second
    empty = await arts.put("notes.txt", b"")
    assert json.loads(empty.body) == {
        "path": "notes.txt",
        "size": 0,
        "sha256": hashlib.sha256(b"").hexdigest(),
    }
    response, body = await arts.get("notes.txt")
    assert response.code == 200 and body == b"" and response.headers["Content-Length"] == "0"


@pytest.mark.catalogue("C7")
async def test_checksum_mismatch_stores_nothing_and_keeps_the_old_version(arts: Artifacts) -> None:
    assert (await arts.put("weights.bin", b"good bytes")).code == 201
    before = await arts.listing()
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    response = await arts.put("weights.bin", b"tampered bytes", headers={"X-MLWS-SHA256": wrong})
    assert response.code == 400
    error = error_of(response)
    assert error["error"] == "invalid_parameter" and wrong in error["message"]
    assert await arts.listing() == before
    assert (await arts.get("weights.bin"))[1] == b"good bytes"

    response = await arts.put("fresh.bin", b"x" * 1000, headers={"X-MLWS-SHA256": wrong})
    assert response.code == 400
    assert (await arts.get("fresh.bin"))[0].code == 404
    assert arts.leftovers() == [] and not (arts.folder / "fresh.bin").exists()


async def test_a_malformed_checksum_header_is_refused_before_the_body(arts: Artifacts) -> None:
    response = await arts.put("a.bin", b"abc", headers={"X-MLWS-SHA256": "not-a-digest"})
    assert response.code == 400 and "X-MLWS-SHA256" in error_of(response)["message"]
    assert await arts.listing() == [] and arts.leftovers() == []


async def test_listing_by_prefix_and_refusing_a_bad_prefix(arts: Artifacts) -> None:
    for name in ("plots/a.png", "plots/b.png", "plots-old/c.png", "model.bin"):
        assert (await arts.put(name, name.encode())).code == 201
    assert [a["path"] for a in await arts.listing("plots")] == ["plots/a.png", "plots/b.png"]
    assert [a["path"] for a in await arts.listing("plots/a.png")] == ["plots/a.png"]
    assert len(await arts.listing("")) == 4
    response = await arts.client.fetch(arts.prefix + "?prefix=../x", headers=arts.auth, raise_error=False)
    assert response.code == 400 and "'..'" in error_of(response)["message"]


async def test_unknown_run_and_missing_artifact_are_json_404s(arts: Artifacts, jp_root_dir: Path) -> None:
    ghost = Artifacts(arts.client, "", arts.auth, "0" * 32, jp_root_dir)
    ghost.prefix = arts.prefix.replace(arts.run_id, "0" * 32)
    for response in (
        await ghost.call("GET"),
        await ghost.call("GET", "x.bin"),
        await ghost.put("x.bin", b"data"),
        await ghost.call("DELETE", "x.bin"),
        await arts.call("GET", "missing.bin"),
        await arts.call("DELETE", "missing.bin"),
    ):
        assert response.code == 404
        assert error_of(response)["error"] == "not_found"
    assert not (jp_root_dir / ".mlws" / "artifacts" / ("0" * 32)).exists()


async def test_delete_removes_bytes_and_record_for_a_file_or_a_folder(arts: Artifacts) -> None:
    for name in ("keep.txt", "logs/a.txt", "logs/b.txt"):
        assert (await arts.put(name, b"x")).code == 201
    response = await arts.call("DELETE", "keep.txt")
    assert response.code == 204 and response.body == b""
    assert (await arts.get("keep.txt"))[0].code == 404
    assert not (arts.folder / "keep.txt").exists()
    assert (await arts.call("DELETE", "logs")).code == 204
    assert await arts.listing() == []
    assert not (arts.folder / "logs").exists()
    assert (await arts.call("DELETE", "keep.txt")).code == 404


@pytest.mark.catalogue("A9")
async def test_images_are_inline_only_when_asked_and_only_when_they_are_images(arts: Artifacts) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    html = b"<html><script>alert(1)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for name, data in (("roc.png", png), ("page.png", html), ("icon.svg", svg), ("<b>x</b>.html", html)):
        assert (await arts.put(name.replace("<", "%3C").replace(">", "%3E"), data)).code == 201

    preview, body = await arts.get("roc.png?inline=1")
    assert body == png and preview.headers["Content-Type"] == "image/png"
    assert preview.headers["Content-Disposition"].startswith("inline;")
    download, _ = await arts.get("roc.png")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    for name in ("page.png", "icon.svg", "%3Cb%3Ex%3C/b%3E.html"):
        response, body = await arts.get(f"{name}?inline=1")
        assert response.code == 200 and body in (html, svg)
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await arts.get("roc.png?inline=maybe"))[0].code == 400


async def test_non_ascii_names_survive_and_download_with_an_encoded_filename(arts: Artifacts) -> None:
    assert (await arts.put("r%C3%A9sultats/%E5%9B%BE.txt", b"ok")).code == 201
    assert [a["path"] for a in await arts.listing()] == ["résultats/图.txt"]
    response, body = await arts.get("r%C3%A9sultats/%E5%9B%BE.txt")
    assert body == b"ok"
    assert "filename*=UTF-8''%E5%9B%BE.txt" in response.headers["Content-Disposition"]


@pytest.mark.catalogue("P10")
class TestUploadLimit:
    @pytest.fixture
    def arts(self, jp_serverapp, http_server_client, jp_base_url, jp_auth_header, jp_root_dir) -> Artifacts:
        jp_serverapp.web_app.settings["mlws_max_upload_bytes"] = 1000
        return Artifacts(http_server_client, jp_base_url, jp_auth_header, make_run(jp_serverapp), jp_root_dir)

    async def test_a_declared_length_over_the_limit_is_413_before_the_body(self, arts: Artifacts) -> None:
        # Like curl: announce the size, wait for "100 Continue"; the server answers 413 instead.
        response = await arts.call("PUT", "big.bin", body=b"x" * 5000, expect_100_continue=True)
        assert response.code == 413
        error = error_of(response)
        assert error["error"] == "payload_too_large" and "1000" in error["message"]
        assert await arts.listing() == []
        assert arts.leftovers() == []

    async def test_a_chunked_body_is_cut_off_with_413_once_past_the_limit(self, arts: Artifacts) -> None:
        response = await arts.put("big.bin", b"y" * 4000, piece=500)
        assert response.code == 413
        assert error_of(response)["error"] == "payload_too_large"
        await wait_for(lambda: arts.leftovers() == [], "the temp file of the refused upload to go")
        assert await arts.listing() == []
        assert (await arts.put("small.bin", b"z" * 1000)).code == 201


async def _send_partial_upload(arts: Artifacts, port: int, path: str, declared: int, sent: int) -> None:
    """Open a raw connection, send headers and `sent` of `declared` bytes, wait until the server
    staged them, then drop the connection, as a crashed client or a closed laptop would."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"PUT {arts.prefix}/{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {arts.auth['Authorization']}\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode())
    block = os.urandom(MIB)
    for _ in range(sent // MIB):
        writer.write(block)
        await writer.drain()

    def staged() -> bool:
        parts = list(arts.folder.glob(".mlws-part-*")) if arts.folder.exists() else []
        return any(p.stat().st_size >= sent - MIB for p in parts)

    await wait_for(staged, "the server to stage the first part of the body")
    writer.transport.abort()
    await asyncio.sleep(0)


@pytest.mark.catalogue("C7")
async def test_an_aborted_upload_leaves_nothing_behind(arts: Artifacts, http_server_client) -> None:
    assert (await arts.put("model.bin", b"previous version")).code == 201
    port = http_server_client.get_http_port()
    await _send_partial_upload(arts, port, "model.bin", declared=20 * MIB, sent=4 * MIB)
    await _send_partial_upload(arts, port, "new/model.bin", declared=20 * MIB, sent=4 * MIB)
    await wait_for(lambda: arts.leftovers() == [], "the temp files of the aborted uploads to go")
    assert await arts.listing() == [
        {"path": "model.bin", "size": 16, "sha256": hashlib.sha256(b"previous version").hexdigest()}
    ]
    assert (await arts.get("model.bin"))[1] == b"previous version"
    assert not (arts.folder / "new").exists()


@pytest.mark.catalogue("K6")
@pytest.mark.parametrize(
    ("call", "code"), [("os.fsync", errno.EIO), ("os.write", errno.ENOSPC)], ids=["fsync-EIO", "write-ENOSPC"]
)
async def test_a_disk_error_during_upload_is_a_clean_503_and_nothing_is_recorded(
    arts: Artifacts, call: str, code: int
) -> None:
    """K6: the disk fails while the body streams in (write) or while it is committed (fsync)."""
    assert (await arts.put("model.bin", b"previous version")).code == 201
    before = await arts.listing()
    with mock.patch(call, side_effect=OSError(code, os.strerror(code))):
        response = await arts.put("model.bin", payload(2 * MIB))
    assert response.code == 503
    error = error_of(response)
    assert error["error"] == "unavailable" and "Nothing was stored" in error["message"]
    await wait_for(lambda: arts.leftovers() == [], "the temp file of the failed upload to go")
    assert await arts.listing() == before
    assert (await arts.get("model.bin"))[1] == b"previous version"


@pytest.mark.catalogue("C7")
def test_a_remote_backend_stores_an_upload_only_once_it_is_complete_and_verified() -> None:
    """The fallback `begin_upload` of fsspec backends (S3, GCS, ...): spooled locally, one put at commit."""
    import tempfile
    import uuid

    import fsspec

    from jupyter_mlws.errors import InvalidParameter
    from jupyter_mlws.store.artifacts import open_artifact_store

    def spools() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("mlws-upload-*"))

    spooled_before = spools()
    bucket = f"mlws-upload-test-{uuid.uuid4().hex}"
    store = open_artifact_store(f"memory://{bucket}/artifacts")
    run, data = "ab12" * 8, payload(3 * MIB)
    upload = store.begin_upload(run, "m/model.bin")
    for start in range(0, len(data), MIB):
        upload.write(data[start : start + MIB])
    assert store.list(run) == []
    info = upload.commit(hashlib.sha256(data).hexdigest())
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    with store.open(run, "m/model.bin") as stored:
        assert stored.read() == data

    refused = store.begin_upload(run, "m/model.bin")
    refused.write(b"tampered")
    with pytest.raises(InvalidParameter):
        refused.commit(hashlib.sha256(b"other").hexdigest())
    abandoned = store.begin_upload(run, "other.bin")
    abandoned.write(b"partial")
    abandoned.abort()
    assert [a.path for a in store.list(run)] == ["m/model.bin"]
    with store.open(run, "m/model.bin") as stored:
        assert stored.read() == data
    assert spools() == spooled_before  # the local spool folders are gone too
    fsspec.filesystem("memory").rm(bucket, recursive=True)
