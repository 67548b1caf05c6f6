"""RELIABILITY C7 (in part): a stalled upload is not held open forever, and temp files that uploads
of a killed process left behind are swept when the server starts.

A real server with a 1 s idle limit (`mlws_upload_idle_seconds`); a raw socket announces a 10 MiB
body, sends 2 MiB and stops. The server closes the connection, removes its temp file and lists no
artifact. A second server started on a workspace holding an old `.mlws-part-*` file (and a fresh
one, as a write in progress would have) removes the old one only.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .test_artifact_routes import make_run

pytestmark = pytest.mark.catalogue("C7")

MIB = 1024 * 1024


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    old = jp_root_dir / "ws" / "artifacts" / "left" / "artifacts" / ".mlws-part-deadbeef"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x" * 1000)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (old.parent / ".mlws-part-inprogress").write_bytes(b"y")
    (old.parent / "kept.txt").write_bytes(b"z")
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlws": True},
            "allow_unauthenticated_access": False,
            "tornado_settings": {"mlws_upload_idle_seconds": 1.0},
        },
        "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws"), "compute_interval": 0},
    }


def _parts(root: Path) -> list[Path]:
    return sorted(root.rglob(".mlws-part-*"))


async def test_a_stalled_upload_is_closed_and_leaves_nothing(
    jp_serverapp: Any, http_server_client: Any, jp_base_url: str, jp_auth_header: dict, jp_root_dir: Path
) -> None:
    import asyncio

    artifacts = jp_root_dir / "ws" / "artifacts"
    left = artifacts / "left" / "artifacts"

    async def swept() -> bool:
        for _ in range(50):
            if not (left / ".mlws-part-deadbeef").exists():
                return True
            await asyncio.sleep(0.1)
        return False

    assert await swept(), "an old temp file of a killed upload is removed at start"
    assert (left / ".mlws-part-inprogress").exists() and (left / "kept.txt").exists()

    run_id = make_run(jp_serverapp)
    url = urlsplit(http_server_client.get_url(f"{jp_base_url}mlws/api/v1/runs/{run_id}/artifacts/big.bin"))
    conn = socket.create_connection((url.hostname, url.port))
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    conn.sendall(
        f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n{auth}"
        f"Content-Length: {10 * MIB}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
    )
    conn.sendall(b"a" * (2 * MIB))
    started = time.monotonic()
    before = await _poll(lambda: [p for p in _parts(artifacts) if "inprogress" not in p.name], True)
    assert before, "the upload is under way in a temp file"
    conn.settimeout(10)
    closed = await asyncio.get_running_loop().run_in_executor(None, _read_until_closed, conn)
    took = time.monotonic() - started
    assert closed and took < 8, f"the server closed the stalled upload after {took:.1f} s"
    assert await _poll(lambda: not [p for p in _parts(artifacts) if "inprogress" not in p.name], True)
    listed = await http_server_client.fetch(
        f"{jp_base_url}mlws/api/v1/runs/{run_id}/artifacts", headers=jp_auth_header
    )
    assert b"big.bin" not in listed.body


async def _poll(check: Any, want: Any, seconds: float = 10.0) -> Any:
    import asyncio

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if bool(found) == want:
            return found or True
        await asyncio.sleep(0.05)
    return None


def _read_until_closed(conn: socket.socket) -> bool:
    try:
        while conn.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        conn.close()
