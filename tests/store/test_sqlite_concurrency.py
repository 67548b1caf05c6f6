"""The SQL stores under real concurrency: C1 (many writers, nothing lost, no 'database is locked')
and C3 (processes creating one experiment) on SQLite and PostgreSQL; C5 (network file systems
refused) and WAL checkpoints on SQLite."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from jupyter_mlws.errors import AlreadyExists
from jupyter_mlws.store.factory import open_store
from jupyter_mlws.store.sql.engine import filesystem_type, network_fs_refusal

PROCESSES, THREADS, POINTS, RUNS = 8, 2, 5000, 4
T0 = 1_700_000_000_000


def _c1_worker(workspace: str, store_url: str, run_id: str, proc: int, out) -> None:
    """One process: two threads, each logging 5000 points through the public API."""
    import jupyter_mlws as mlws

    errors: list[str] = []
    try:
        ws = mlws.Workspace(workspace, store_url=store_url)
        run = ws.get_run(run_id)

        def log(thread: int) -> None:
            try:
                for i in range(POINTS // 2):
                    run.log_metric(f"p{proc}t{thread}", float(i), step=i)
                    run.log_metric("shared", proc * 1000 + thread + i / 10_000, step=i)
                run.flush()
            except Exception as err:
                errors.append(repr(err))

        threads = [threading.Thread(target=log, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ws.close()
    except Exception as err:
        errors.append(repr(err))
    out.put(errors)


@pytest.mark.catalogue("C1")
def test_c1_many_processes_and_threads_lose_nothing(sql_url: str, tmp_path: Path) -> None:
    """8 processes x 2 threads log 5k points each into 4 runs (SQLite: the workspace's file; PostgreSQL:
    a fresh database) through the public API: no error of any kind, every row, a consistent latest."""
    from sqlalchemy import create_engine, text

    from jupyter_mlws.store.sql.engine import normalise_url

    workspace = str(tmp_path / "ws")
    store = open_store(sql_url)
    exp = store.create_experiment("c1")
    run_ids = [store.create_run(exp.experiment_id, name=f"r{i}").info.run_id for i in range(RUNS)]
    store.close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_c1_worker, args=(workspace, sql_url, run_ids[p % RUNS], p, out))
        for p in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    reports = [out.get(timeout=280) for _ in procs]
    for p in procs:
        p.join(30)
    assert reports == [[]] * PROCESSES  # no error of any kind, "database is locked" included
    engine = create_engine(normalise_url(sql_url))
    with engine.connect() as db:
        total = db.execute(text("SELECT count(*) FROM metrics")).scalar()
        assert total == PROCESSES * THREADS * POINTS
        for proc in range(PROCESSES):
            for thread in range(THREADS):
                steps = db.execute(
                    text(
                        "SELECT step FROM metrics m JOIN runs r ON r.id = m.run "
                        "WHERE r.run_id = :r AND m.key = :k ORDER BY step"
                    ),
                    {"r": run_ids[proc % RUNS], "k": f"p{proc}t{thread}"},
                ).scalars()
                assert list(steps) == list(range(POINTS // 2))
        # latest_metrics holds, per (run, key), a point with the largest (step, timestamp) in the history
        latest = db.execute(text("SELECT run, key, step, timestamp_ms, value FROM latest_metrics")).all()
        assert len(latest) == RUNS * (1 + PROCESSES // RUNS * THREADS)
        for run, key, step, stamp, value in latest:
            where = {"run": run, "key": key}
            best = db.execute(
                text("SELECT max(step) FROM metrics WHERE run = :run AND key = :key"), where
            ).scalar()
            best_ts = db.execute(
                text(
                    "SELECT max(timestamp_ms) FROM metrics WHERE run = :run AND key = :key AND step = :step"
                ),
                {**where, "step": best},
            ).scalar()
            assert (step, stamp) == (best, best_ts)
            tied = db.execute(
                text(
                    "SELECT value FROM metrics WHERE run = :run AND key = :key AND step = :step "
                    "AND timestamp_ms = :stamp"
                ),
                {**where, "step": step, "stamp": stamp},
            ).scalars()
            assert value in set(tied)
    engine.dispose()
    if sql_url.startswith("sqlite"):
        with sqlite3.connect(f"{workspace}/mlws.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with open_store(sql_url) as store:  # the packed history agrees with the rows
        for proc in range(PROCESSES):
            series = store.get_metric_history(run_ids[proc % RUNS], f"p{proc}t0")
            assert list(series.steps) == list(range(POINTS // 2))
        for run_id in run_ids:
            shared = store.get_metric_history(run_id, "shared")
            assert shared.total_points == PROCESSES // RUNS * THREADS * POINTS // 2


def _create_experiment(url: str, out) -> None:
    try:
        store = open_store(url)
        try:
            out.put(("created", store.create_experiment("race").experiment_id))
        except AlreadyExists as err:
            out.put(("exists", err.message))
        store.close()
    except Exception as err:
        out.put(("error", repr(err)))


@pytest.mark.catalogue("C3")
def test_c3_processes_creating_the_same_experiment(sql_url: str) -> None:
    url = sql_url
    open_store(url).close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_create_experiment, args=(url, out)) for _ in range(20)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(30)
    kinds = [kind for kind, _ in results]
    assert kinds.count("created") == 1 and kinds.count("exists") == 19, results
    assert all("already exists" in detail for kind, detail in results if kind == "exists")
    with open_store(url) as store:
        assert [e.name for e in store.list_experiments()] == ["race"]


@pytest.mark.catalogue("C5")
def test_filesystem_detection_and_network_refusal(tmp_path: Path) -> None:
    """C5: statfs identifies the file system; network ones get an actionable refusal."""
    assert filesystem_type("/proc") == "proc"
    assert filesystem_type("/dev/shm") == "tmpfs"
    assert network_fs_refusal(filesystem_type(tmp_path), str(tmp_path)) is None
    message = network_fs_refusal("nfs", "/mnt/share/.mlws")
    assert "network file system (nfs)" in message and "postgresql://" in message
    assert "MLWS_WORKSPACE" in message


def test_store_uses_wal_and_checkpoints_truncate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ws/mlws.db"
    with open_store(url) as store:
        run_id = store.create_run(store.create_experiment("e").experiment_id).info.run_id
        store.log_batch(run_id, metrics=[("loss", 1.0, i, T0) for i in range(20_000)])
        wal = tmp_path / "ws" / "mlws.db-wal"
        assert wal.exists() and wal.stat().st_size > 0
        store.checkpoint()
        assert wal.stat().st_size == 0
    with sqlite3.connect(tmp_path / "ws" / "mlws.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_memory_database_is_refused() -> None:
    from jupyter_mlws.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="SQLite file"):
        open_store("sqlite://")
