"""Clusters in every store (issue 15): the same behaviour on SQLite, PostgreSQL and REST."""

from __future__ import annotations

import pytest

from jupyter_mlws.compute.clusters import validate_attached, validate_cluster
from jupyter_mlws.errors import AlreadyExists, NotFound

from .conftest import skip_on_rest


def test_clusters_are_created_listed_changed_and_deleted(store) -> None:
    made = store.create_cluster(
        validate_cluster(
            "cpu-cluster",
            min_nodes=0,
            max_nodes=4,
            node={"cpus": 1, "memory": "512MiB"},
            idle_seconds_before_scaledown=90,
            description="for training",
        )
    )
    assert made.created_time > 0 and made.kind == "cluster"
    found = store.get_cluster("cpu-cluster")
    assert (found.min_nodes, found.max_nodes, found.node_cpus, found.node_memory_bytes) == (
        0,
        4,
        1,
        512 * 1024**2,
    )
    assert found.idle_seconds_before_scaledown == 90 and found.description == "for training"
    changed = store.update_cluster("cpu-cluster", max_nodes=2, description="smaller")
    assert changed.max_nodes == 2 and changed.min_nodes == 0 and changed.updated_time >= made.updated_time
    assert [c.name for c in store.list_clusters()] == ["cpu-cluster"]
    store.delete_cluster("cpu-cluster")
    with pytest.raises(NotFound):
        store.get_cluster("cpu-cluster")
    with pytest.raises(NotFound):
        store.delete_cluster("cpu-cluster")


def test_cluster_and_instance_names_are_one_namespace(store) -> None:
    from jupyter_mlws.compute.spec import validate_instance

    store.create_compute_target(validate_instance("shared"))
    with pytest.raises(AlreadyExists):
        store.create_cluster(validate_cluster("shared"))
    store.create_cluster(validate_cluster("gpu-cluster"))
    with pytest.raises(AlreadyExists):
        store.create_cluster(validate_cluster("gpu-cluster"))
    # each side lists and finds only its own kind
    assert [i.name for i in store.list_compute_targets()] == ["shared"]
    assert [c.name for c in store.list_clusters()] == ["gpu-cluster"]
    with pytest.raises(NotFound):
        store.get_cluster("shared")
    with pytest.raises(NotFound):
        store.get_compute_target("gpu-cluster")


def test_an_attached_cluster_keeps_its_address(store) -> None:
    skip_on_rest(store, "over REST an attach is checked against the scheduler: tests/server/test_clusters.py")
    store.create_cluster(validate_attached("hpc", address="tcp://10.0.0.5:8786"))
    found = store.get_cluster("hpc")
    assert found.kind == "attached" and found.address == "tcp://10.0.0.5:8786"
