"""RELIABILITY P10: oversized and abusive bodies are refused (400/413) without the server
buffering them, and a normal request made at the same time is answered."""

from __future__ import annotations

import asyncio
import json
import uuid

import psutil
import pytest

from .api_helpers import Api, error_of

pytestmark = pytest.mark.catalogue("P10")

MB = 1024 * 1024


async def test_abusive_bodies_are_refused_without_buffering(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "abuse"}, expect=201))["run_id"]
    path = f"{api.base}/runs/{rid}/batches/{uuid.uuid4().hex}"
    process = psutil.Process()
    before = process.memory_info().rss

    async def send(body=None, headers=None):
        return await api.client.fetch(
            path, method="PUT", body=body,
            headers={"Content-Type": "application/json", **api.auth, **(headers or {})},
            raise_error=False, request_timeout=60,
        )

    cases = []
    cases.append(("1 MB param", send(json.dumps({"params": {"p": "x" * MB}})), 400))
    big_batch = json.dumps({"metrics": [{"key": "m", "value": 1.0, "step": i} for i in range(100_000)]})
    cases.append(("100k-metric batch", send(big_batch), 413))
    cases.append(("depth 10k", send("[" * 10_000 + "]" * 10_000), 400))
    cases.append(("negative step", send(json.dumps({"metrics": [{"key": "m", "value": 1, "step": -5}]})), 400))
    cases.append(("huge step", send(json.dumps({"metrics": [{"key": "m", "value": 1, "step": 2**70}]})), 400))

    # A normal request alongside the abuse.
    normal = api.json("GET", f"/runs/{rid}")
    results = await asyncio.gather(*(c[1] for c in cases), normal, return_exceptions=True)
    for (what, _, status), response in zip(cases, results[:-1], strict=True):
        assert not isinstance(response, BaseException), (what, response)
        assert response.code == status, (what, response.code, response.body[:200])
        error_of(response)
    assert results[-1]["run_id"] == rid
    growth = (process.memory_info().rss - before) / MB
    assert growth < 50, f"RSS grew {growth:.0f} MB while refusing abusive bodies"
    run = await api.json("GET", f"/runs/{rid}")
    assert run["params"] == {} and run["metrics"] == {}


async def _raw_put(api: Api, length_header: str, chunked: bool) -> bytes:
    """PUT a 200 MB body over a raw socket, reading the answer while still sending (tornado's
    client would not read an early answer)."""
    rid = (await api.json("POST", "/runs", {"experiment_name": f"raw-{uuid.uuid4().hex[:6]}"}, expect=201))["run_id"]
    port = api.client.get_http_port()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    target = f"{api.base}/runs/{rid}/batches/{uuid.uuid4().hex}"
    head = (
        f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {api.auth['Authorization']}\r\nContent-Type: application/json\r\n{length_header}\r\n"
    )
    writer.write(head.encode())

    async def pump() -> None:
        block = b" " * MB
        try:
            for _ in range(200):
                writer.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered and closed: what we want

    sender = asyncio.ensure_future(pump())
    try:
        answer = await asyncio.wait_for(reader.read(4096), 60)
    except ConnectionResetError:
        # The server answered and closed while our bytes were in flight; the kernel then
        # resets the connection, which can swallow the answer. Refused either way.
        answer = b"RESET"
    sender.cancel()
    writer.close()
    return answer


async def test_declared_oversized_body_is_refused_from_its_headers(api: Api) -> None:
    answer = await _raw_put(api, f"Content-Length: {200 * MB}\r\n", chunked=False)
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line, status_line
    assert b'"payload_too_large"' in rest


async def test_chunked_oversized_body_is_refused_once_past_the_cap(api: Api) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    answer = await _raw_put(api, "Transfer-Encoding: chunked\r\n", chunked=True)
    assert answer == b"RESET" or b" 413 " in answer.partition(b"\r\n")[0], answer[:200]
    assert (process.memory_info().rss - before) / MB < 50
    # and the server is still serving
    assert (await api.json("GET", "/experiments"))["experiments"]
