"""Live updates: a run created, metrics appended and a status change made by another process
writing the SQLite file (as a kernel does) reach the browser's events websocket."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from jupyter_mlws.store.factory import open_store
from jupyter_mlws.store.sql import changes as changes_module

SCHEMA = "https://events.jupyter.org/jupyter_mlws/run/v1"


async def _next_events(ws, want: int, timeout: float = 10.0) -> list[dict]:
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(found) < want and time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(ws.read_message(), timeout=max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if message is None:
            break
        event = json.loads(message)
        if event.get("schema_id") == SCHEMA:
            found.append(event)
    return found


async def test_kernel_side_writes_reach_the_events_websocket(jp_serverapp, jp_ws_fetch, services) -> None:
    ws = await jp_ws_fetch("api", "events", "subscribe")
    # A second store on the same file: the way a kernel writes, not through the server.
    kernel_side = open_store(services.location.store_url)
    try:
        exp = kernel_side.create_experiment("live")
        run_id = kernel_side.create_run(exp.experiment_id).info.run_id
        started = time.monotonic()
        created = await _next_events(ws, 1)
        assert created and created[0]["action"] == "created" and created[0]["run_id"] == run_id
        assert created[0]["experiment_id"] == exp.experiment_id and created[0]["status"] == "running"
        kernel_side.log_batch(run_id, metrics=[("loss", 0.5, 0, 1_700_000_000_000)])
        appended = await _next_events(ws, 1)
        assert appended[0]["action"] == "metrics" and appended[0]["run_id"] == run_id
        kernel_side.end_run(run_id, "completed")
        ended = await _next_events(ws, 1)
        assert ended[0]["action"] == "updated" and ended[0]["status"] == "completed"
        # three round trips, each well inside the 1 s the panel promises
        assert time.monotonic() - started < 10
    finally:
        kernel_side.close()
        ws.close()


@pytest.mark.catalogue("A6")
async def test_events_websocket_refuses_anonymous_clients(jp_ws_fetch) -> None:
    import pytest
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("api", "events", "subscribe", headers={"Authorization": ""})
    assert refused.value.code in (302, 403)  # redirected to login or refused: no handshake


def test_change_feed_folds_and_resyncs(tmp_path, monkeypatch) -> None:
    store = open_store(f"sqlite:///{tmp_path}/mlws.db")
    try:
        start = store.changes_since(None)
        assert start.events == []
        exp = store.create_experiment("feed")
        run_id = store.create_run(exp.experiment_id).info.run_id
        for step in range(5):
            store.log_batch(run_id, metrics=[("m", float(step), step, 1_700_000_000_000 + step)])
        page = store.changes_since(start.cursor)
        assert [e["action"] for e in page.events] == ["created", "metrics"], "five batches fold into one event"
        assert store.changes_since(page.cursor).events == []
        monkeypatch.setattr(changes_module, "KEEP", 1)
        store.set_tag(run_id, "t", "v")
        store.checkpoint()  # prunes everything but the newest change
        behind = store.changes_since(start.cursor)
        assert behind.events[0]["action"] == "resync"
    finally:
        store.close()


def _as_a_notebook_run_logs(store, experiment_id: int, name: str) -> str:
    """What a tracked cell writes: params (an update), metrics, then its end (another update)."""
    run_id = store.create_run(experiment_id, name=name).info.run_id
    store.log_params(run_id, {"lr": "0.1"})
    for step in range(3):
        store.log_batch(run_id, metrics=[("loss", 1.0 / (step + 1), step, 1_700_000_000_000 + step)])
    store.end_run(run_id, "completed")
    return run_id


def test_folded_feed_keeps_each_change_at_its_newest_place(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/mlws.db")
    try:
        start = store.changes_since(None)
        exp = store.create_experiment("order")
        run_id = _as_a_notebook_run_logs(store, exp.experiment_id, "ends-last")
        failed = store.create_run(exp.experiment_id, name="fails").info.run_id
        store.log_params(failed, {"lr": "9"})
        store.log_batch(failed, metrics=[("loss", 9.0, 0, 1_700_000_000_000)])
        store.end_run(failed, "failed", "diverged")
        page = store.changes_since(start.cursor)
        mine = [(e["action"], e["status"]) for e in page.events if e["run_id"] == run_id]
        assert mine == [("created", "completed"), ("metrics", "completed"), ("updated", "completed")]
        theirs = [e["action"] for e in page.events if e["run_id"] == failed]
        assert theirs == ["created", "metrics", "updated"], "the end of a run is its last event"
        # Across runs too: the page follows the newest change of each fold.
        assert [(e["run_id"], e["action"]) for e in page.events][-1] == (failed, "updated")
    finally:
        store.close()


async def test_a_finished_runs_last_event_on_the_websocket_is_its_end(jp_ws_fetch, services) -> None:
    ws = await jp_ws_fetch("api", "events", "subscribe")
    kernel_side = open_store(services.location.store_url)
    try:
        exp = kernel_side.create_experiment("live-order")
        run_id = _as_a_notebook_run_logs(kernel_side, exp.experiment_id, "ends-last")
        # A run created after it all: once its event is here, everything before it is too.
        sentinel = kernel_side.create_run(exp.experiment_id, name="after").info.run_id
        seen: list[dict] = []
        while not any(e["run_id"] == sentinel for e in seen):
            more = await _next_events(ws, 1)
            assert more, f"the events stopped before the sentinel run's; got {seen}"
            seen += more
        mine = [(e["action"], e["status"]) for e in seen if e["run_id"] == run_id]
        assert mine and mine[-1] == ("updated", "completed"), mine
    finally:
        kernel_side.close()
        ws.close()
