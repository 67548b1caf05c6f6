"""RELIABILITY C2: the SQLite write-ahead log stays bounded, and whoever keeps it from being reset
is named.

A real workspace database, real threads reading and writing through the store, and a real second
process holding a read transaction open (as an `sqlite3` shell or a database browser left open
would). Figures for a 10-minute run: `benchmarks/soak_wal.py`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jupyter_mlws.entities import Metric
from jupyter_mlws.store.sql.store import SqlStore
from jupyter_mlws.store.sql.wal_watch import WAL_CAP_BYTES, wal_bytes

pytestmark = pytest.mark.catalogue("C2")

READER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
conn.execute("SELECT count(*) FROM runs").fetchall()
print("reading", flush=True)
time.sleep(120)
"""


def _points(n: int, step0: int) -> list[Metric]:
    now = int(time.time() * 1000)
    return [Metric(f"m{i % 7}", float(i), step0 + i, now) for i in range(n)]


@pytest.fixture
def store(tmp_path: Path):
    opened = SqlStore(f"sqlite:///{tmp_path / 'mlws.db'}")
    yield opened
    opened.close()


def test_a_foreign_reader_that_pins_the_wal_is_named_and_the_wal_resets_once_it_lets_go(
    store: SqlStore, tmp_path: Path
) -> None:
    database = tmp_path / "mlws.db"
    run = store.create_run(store.create_experiment("wal").experiment_id).info
    store.wal_cap_bytes = 1024 * 1024  # (the real cap is 64 MB; the behaviour is the same)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
        for batch in range(20):
            store.log_batch(run.run_id, _points(1000, batch * 1000))
        store.checkpoint()
        assert wal_bytes(database) > store.wal_cap_bytes, "the reader keeps the WAL from being reset"
        warning = store.wal_warning or ""
        assert f"pid {reader.pid} ({sys.executable} -c" in warning, warning
        assert "cannot be reset" in warning and "end that transaction or process" in warning
    finally:
        reader.kill()
        reader.wait(10)
    store.log_batch(run.run_id, _points(10, 10**6))
    store.checkpoint()
    assert store.wal_warning is None
    assert wal_bytes(database) == 0, "once the reader is gone the checkpoint resets the WAL"
    # nothing written while the WAL was pinned was lost
    expected = sum(1 for b in range(20) for i in range(1000) if i % 7 == 0) + 2
    assert store.get_metric_history(run.run_id, "m0").total_points == expected


def test_our_own_reads_never_keep_the_wal_from_being_reset(store: SqlStore, tmp_path: Path) -> None:
    """Back-to-back reads in three threads and writes in a fourth: a checkpoint taken while they
    run resets the WAL to nothing, nobody is named, and no pooled reader is left in a transaction."""
    database = tmp_path / "mlws.db"
    exp = store.create_experiment("busy").experiment_id
    runs = [store.create_run(exp).info.run_id for _ in range(5)]
    stop = threading.Event()
    errors: list[BaseException] = []
    largest = [0]

    def keep(work) -> None:
        try:
            while not stop.is_set():
                work()
        except BaseException as err:  # (reported by the test)
            errors.append(err)

    step = [0]

    def write() -> None:
        step[0] += 200
        store.log_batch(runs[step[0] % 5], _points(200, step[0]))
        largest[0] = max(largest[0], wal_bytes(database))

    threads = [
        threading.Thread(target=keep, args=(write,)),
        threading.Thread(target=keep, args=(lambda: store.search_runs([exp]),)),
        threading.Thread(target=keep, args=(lambda: store.get_metric_history(runs[0], "m1"),)),
        threading.Thread(target=keep, args=(lambda: store.get_run(runs[1]),)),
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(4)
        resets = 0
        for _ in range(5):
            store.checkpoint()  # while the readers keep reading
            resets += wal_bytes(database) == 0
            assert store.wal_warning is None
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not errors, errors
    assert resets >= 3, f"only {resets} of 5 checkpoints reset the WAL while our reads ran"
    assert largest[0] <= WAL_CAP_BYTES
    pooled = store.reader.pool
    for _ in range(pooled.checkedin()):
        with store.reader.connect() as conn:
            assert not conn.connection.driver_connection.in_transaction
