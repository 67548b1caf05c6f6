"""The job queue in every SQL store (issue 15): SQLite and PostgreSQL behave the same.

Over REST the server dispatches every job it queues (it would take and run the jobs made here),
so the REST store's job calls are tested end to end with a real cluster in tests/jobs/.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from jupyter_mlws.entities import Job
from jupyter_mlws.errors import AlreadyExists, Conflict, InvalidParameter, NotFound

from .conftest import skip_on_rest


def _job(store, target: str = "cpu", priority: int = 0, name: str = "train.py") -> Job:
    experiment = store.get_or_create_experiment("jobs").experiment_id
    run = store.create_run(experiment, status="queued", source_kind="job", compute_target=target)
    return Job(
        job_id=uuid.uuid4().hex,
        name=name,
        kind="command",
        target=target,
        experiment_id=experiment,
        run_id=run.info.run_id,
        priority=priority,
        spec={"command": ["python", "train.py"], "resources": {"cpus": 1}},
    )


def test_jobs_are_queued_read_and_listed_newest_first(store) -> None:
    skip_on_rest(store, "the server dispatches every job it queues (tests/jobs/)")
    first = store.create_job(_job(store, name="a"))
    second = store.create_job(_job(store, target="gpu", name="b"))
    assert first.state == "queued" and first.attempt == 1 and first.owner is None
    assert first.submitted_time > 0 and second.submitted_ns > first.submitted_ns
    found = store.get_job(first.job_id)
    assert found.spec == {"command": ["python", "train.py"], "resources": {"cpus": 1}}
    assert [j.name for j in store.list_jobs()] == ["b", "a"]
    assert [j.name for j in store.list_jobs(target="cpu")] == ["a"]
    assert [j.name for j in store.list_jobs(states=["running"])] == []
    assert len(store.list_jobs(limit=1)) == 1
    with pytest.raises(AlreadyExists):
        store.create_job(found)
    with pytest.raises(NotFound):
        store.get_job("0" * 32)
    with pytest.raises(InvalidParameter, match="kind"):
        store.create_job(Job(**{**_job(store).to_dict(), "kind": "shell"}))


def test_a_change_happens_only_when_the_job_is_as_expected(store) -> None:
    skip_on_rest(store, "the server dispatches every job it queues (tests/jobs/)")
    job = store.create_job(_job(store))
    claimed = store.update_job(
        job.job_id, expect={"state": "queued", "attempt": 1}, state="running", node="n1"
    )
    assert claimed.state == "running" and claimed.node == "n1"
    with pytest.raises(Conflict, match="expected"):
        store.update_job(job.job_id, expect={"state": "queued"}, state="running", node="n2")
    assert store.get_job(job.job_id).node == "n1", "a refused change changes nothing"
    taken = store.update_job(job.job_id, expect={"owner": None}, owner="me")
    assert taken.owner == "me"
    with pytest.raises(Conflict):
        store.update_job(job.job_id, expect={"owner": None}, owner="you")
    with pytest.raises(InvalidParameter, match="kind"):
        store.update_job(job.job_id, kind="notebook")
    with pytest.raises(InvalidParameter, match="state"):
        store.update_job(job.job_id, state="paused")
    with pytest.raises(NotFound):
        store.update_job("0" * 32, state="failed")


def test_one_of_many_concurrent_claims_wins(store) -> None:
    skip_on_rest(store, "the server dispatches every job it queues (tests/jobs/)")
    job = store.create_job(_job(store))
    winners: list[str] = []
    barrier = threading.Barrier(4)

    def claim(node: str) -> None:
        barrier.wait()
        try:
            store.update_job(job.job_id, expect={"state": "queued"}, state="running", node=node)
            winners.append(node)
        except Conflict:
            pass

    threads = [threading.Thread(target=claim, args=(f"n{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and store.get_job(job.job_id).node == winners[0]


def test_output_is_read_after_a_cursor_in_order(store) -> None:
    skip_on_rest(store, "the server dispatches every job it queues (tests/jobs/)")
    job = store.create_job(_job(store))
    assert store.append_job_logs(job.job_id, []) == 0
    store.append_job_logs(job.job_id, [(1, "stdout", "one\n", 1), (1, "stderr", "two\n", 2)])
    store.append_job_logs(job.job_id, [(1, "stdout", "three ✓\n", 3)])
    chunks = store.job_logs(job.job_id)
    assert [c.text for c in chunks] == ["one\n", "two\n", "three ✓\n"]
    assert [c.stream for c in chunks] == ["stdout", "stderr", "stdout"]
    later = store.job_logs(job.job_id, since=chunks[1].cursor)
    assert [c.text for c in later] == ["three ✓\n"]
    assert store.job_logs(job.job_id, since=chunks[-1].cursor) == []
    assert len(store.job_logs(job.job_id, limit=2)) == 2


def test_dispatchers_beat_and_lapse(store) -> None:
    skip_on_rest(store, "a REST client never dispatches: its server does")
    store.beat_job_dispatcher("host:1:server", "server")
    store.beat_job_dispatcher("host:2:process", "process")
    assert {d for d, _, _ in store.job_dispatchers(10_000)} == {"host:1:server", "host:2:process"}
    time.sleep(0.05)
    store.beat_job_dispatcher("host:1:server", "server")
    assert [d for d, _, _ in store.job_dispatchers(30)] == ["host:1:server"]
    store.drop_job_dispatcher("host:1:server")
    assert [d for d, _, _ in store.job_dispatchers()] == ["host:2:process"]
