"""Issue 4 and RELIABILITY C7, measured: a 1 GB artifact goes up and comes back down through the real
server while the process's resident memory grows by less than 100 MB each way.

The server and the client run in this one process, so the figure counts both ends: stricter than the
server alone. The body is made on the fly from a 1 MiB block (each piece stamped with its number, so a
lost, doubled or reordered piece changes the checksum) and never held whole; the download is hashed
piece by piece as it streams in. Slow (tens of seconds, 1 GB of disk): marked `slow`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import pytest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from .test_artifact_routes import make_run

MIB = 1024 * 1024
GB_PIECES = 1024  # 1024 pieces of 1 MiB: 1 GiB
RSS_BUDGET = 100 * 1000 * 1000


class PeakRss:
    """Samples this process's RSS on a thread every few ms and keeps the highest value."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    @contextmanager
    def watching(self) -> Iterator[PeakRss]:
        gc.collect()
        self.baseline = self.peak = self.process.memory_info().rss
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            self._stop.set()
            sampler.join()
            self._stop.clear()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def pieces(count: int) -> tuple[Callable[[Any], Any], Any]:
    """A body producer of `count` numbered 1 MiB pieces, and the sha256 object it fills as it goes."""
    block = os.urandom(MIB)
    digest = hashlib.sha256()

    async def produce(write: Callable[[bytes], Any]) -> None:
        for number in range(count):
            piece = number.to_bytes(8, "big") + block[8:]
            digest.update(piece)
            await write(piece)

    return produce, digest


@pytest.mark.catalogue("C7")
@pytest.mark.slow
async def test_one_gigabyte_up_and_down_keeps_rss_growth_under_100_mb(
    jp_serverapp, http_server_client, jp_base_url, jp_auth_header
) -> None:
    url = http_server_client.get_url(f"{jp_base_url}mlws/api/v1/runs/{make_run(jp_serverapp)}/artifacts")
    client = SimpleAsyncHTTPClient(force_instance=True, max_body_size=2 * GB_PIECES * MIB)
    rss = PeakRss()

    async def upload(name: str, count: int) -> tuple[dict[str, Any], str]:
        produce, digest = pieces(count)
        response = await client.fetch(
            f"{url}/{name}",
            method="PUT",
            body_producer=produce,
            request_timeout=600,
            headers={**jp_auth_header, "Content-Length": str(count * MIB)},
        )
        assert response.code == 201
        return json.loads(response.body), digest.hexdigest()

    async def download(name: str) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0

        def take(piece: bytes) -> None:
            nonlocal size
            digest.update(piece)
            size += len(piece)

        response = await client.fetch(
            f"{url}/{name}", headers=jp_auth_header, streaming_callback=take, request_timeout=600
        )
        assert response.code == 200
        return size, digest.hexdigest()

    try:
        # Warm up: first-use allocations (pool threads, buffers, imports) are not what is measured.
        await upload("warm.bin", 16)
        await download("warm.bin")

        with rss.watching():
            info, sent_sha = await upload("big.bin", GB_PIECES)
        up = rss.growth
        assert info == {"path": "big.bin", "size": GB_PIECES * MIB, "sha256": sent_sha}

        with rss.watching():
            size, got_sha = await download("big.bin")
        down = rss.growth
        assert (size, got_sha) == (GB_PIECES * MIB, sent_sha)

        print(f"\n1 GiB upload: RSS grew {up / 1e6:.1f} MB; 1 GiB download: RSS grew {down / 1e6:.1f} MB")
        assert up < RSS_BUDGET, f"upload grew RSS by {up / 1e6:.1f} MB"
        assert down < RSS_BUDGET, f"download grew RSS by {down / 1e6:.1f} MB"
    finally:
        for name in ("big.bin", "warm.bin"):
            await client.fetch(f"{url}/{name}", method="DELETE", headers=jp_auth_header, raise_error=False)
        client.close()
