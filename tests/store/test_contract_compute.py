"""Store contract: compute instances and compute events, on every backend (schema v5)."""

from __future__ import annotations

import pytest

from jupyter_mlws.compute.spec import validate_instance
from jupyter_mlws.errors import AlreadyExists, InvalidParameter, NotFound

from .conftest import skip_on_rest

GiB = 1024**3


def test_an_instance_round_trips_and_lists_by_name(store) -> None:
    small = store.create_compute_target(
        validate_instance("cpu-small", cpus=1, memory="2GiB", idle_shutdown_minutes=30, env={"MODE": "dev"})
    )
    assert (small.cpus, small.memory_bytes, small.idle_shutdown_minutes, small.env) == (
        1,
        2 * GiB,
        30.0,
        {"MODE": "dev"},
    )
    assert small.created_time > 0 and small.updated_time == small.created_time
    store.create_compute_target(validate_instance("a-gpu", gpus=1, description="for training"))
    assert store.get_compute_target("cpu-small") == small
    listed = store.list_compute_targets()
    assert [i.name for i in listed] == ["a-gpu", "cpu-small"]
    assert listed[0].gpus == 1 and listed[0].description == "for training" and listed[0].cpus is None


def test_a_taken_name_is_refused_and_the_first_definition_kept(store) -> None:
    store.create_compute_target(validate_instance("cpu-small", cpus=1))
    with pytest.raises(AlreadyExists, match="cpu-small"):
        store.create_compute_target(validate_instance("cpu-small", memory="1GiB"))
    kept = store.get_compute_target("cpu-small")
    assert (kept.cpus, kept.memory_bytes) == (1, None)


def test_update_changes_only_what_is_given(store) -> None:
    created = store.create_compute_target(validate_instance("cpu-small", cpus=1, memory="1GiB"))
    changed = store.update_compute_target("cpu-small", memory_bytes=2 * GiB, idle_shutdown_minutes=5.0)
    assert (changed.cpus, changed.memory_bytes, changed.idle_shutdown_minutes) == (1, 2 * GiB, 5.0)
    assert changed.updated_time >= created.updated_time and changed.created_time == created.created_time
    assert store.get_compute_target("cpu-small") == changed
    with pytest.raises(NotFound, match="nope"):
        store.update_compute_target("nope", cpus=1)


def test_delete_forgets_the_instance(store) -> None:
    store.create_compute_target(validate_instance("cpu-small", cpus=1))
    store.delete_compute_target("cpu-small")
    assert store.list_compute_targets() == []
    with pytest.raises(NotFound):
        store.get_compute_target("cpu-small")
    with pytest.raises(NotFound):
        store.delete_compute_target("cpu-small")


def test_events_are_recorded_and_listed_newest_first_with_filters(store) -> None:
    skip_on_rest(store, "compute events are recorded only by the server and its provisioned kernels")
    first = store.record_compute_event("cpu-small", "kernel_started", kernel_id="k1")
    warn = store.record_compute_event("cpu-small", "idle_warning", kernel_id="k1", details={"shutdown_at": 5})
    store.record_compute_event("gpu", "kernel_started", kernel_id="k2")
    stop = store.record_compute_event(
        "cpu-small", "limit_stopped", kernel_id="k1", reason="memory limit exceeded", details={"rss_bytes": 7}
    )
    assert [e.kind for e in store.list_compute_events("cpu-small")] == [
        "limit_stopped",
        "idle_warning",
        "kernel_started",
    ]
    assert store.list_compute_events(kernel_id="k2")[0].target == "gpu"
    assert [e.event_id for e in store.list_compute_events(after_id=warn.event_id)][::-1][0] > warn.event_id
    assert store.list_compute_events("cpu-small", kind="limit_stopped") == [stop]
    assert stop.reason == "memory limit exceeded" and stop.details == {"rss_bytes": 7}
    assert store.list_compute_events(limit=1)[0].event_id > first.event_id
    with pytest.raises(InvalidParameter, match="kind"):
        store.record_compute_event("cpu-small", "exploded")
    with pytest.raises(InvalidParameter, match="name"):
        store.record_compute_event("Not A Name", "kernel_started")


def test_events_outlive_their_instance(store) -> None:
    skip_on_rest(store, "compute events are recorded only by the server and its provisioned kernels")
    store.create_compute_target(validate_instance("cpu-small", cpus=1))
    store.record_compute_event("cpu-small", "kernel_stopped", kernel_id="k1", reason="kernel shut down")
    store.delete_compute_target("cpu-small")
    assert [e.reason for e in store.list_compute_events("cpu-small")] == ["kernel shut down"]


def test_the_rest_store_cannot_forge_events(store) -> None:
    if type(store).__name__ != "RestStore":
        pytest.skip("SQL stores record events: the server and provisioned kernels write through them")
    from jupyter_mlws.errors import Forbidden

    with pytest.raises(Forbidden, match="recorded by the workspace's server"):
        store.record_compute_event("cpu-small", "limit_stopped", reason="forged")
