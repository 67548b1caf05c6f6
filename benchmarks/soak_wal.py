"""RELIABILITY C2 soak: the SQLite WAL's size under back-to-back reads and writes (issue 19, item 3).

One workspace database and its store, as a server holds it: a writer thread logging metric batches
back to back (200 points per batch over 20 runs), three reader threads searching runs, reading
metric histories and single runs back to back, and a sampler reading the size of `mlws.db-wal`
every 0.25 s. The store checkpoints as it does in service (every 500 writes or 30 s). Printed: the
largest and the final WAL size, how often a checkpoint truncated it, writes and reads done, and the store's
WAL warning (none expected: no reader outside the workspace).

    python benchmarks/soak_wal.py            # 10 minutes
    python benchmarks/soak_wal.py --seconds 60
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from jupyter_mlws.entities import Metric
from jupyter_mlws.store.sql.store import SqlStore
from jupyter_mlws.store.sql.wal_watch import WAL_CAP_BYTES, wal_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "mlws.db"
        store = SqlStore(f"sqlite:///{database}")
        exp = store.create_experiment("soak").experiment_id
        runs = [store.create_run(exp).info.run_id for _ in range(20)]
        stop = threading.Event()
        counts = {"writes": 0, "reads": 0, "resets": 0}
        sizes: list[int] = []

        def writer() -> None:
            step = 0
            while not stop.is_set():
                now = int(time.time() * 1000)
                points = [Metric(f"m{i % 5}", float(i), step + i, now) for i in range(200)]
                store.log_batch(runs[step % 20], points)
                step += 200
                counts["writes"] += 1

        def reader(which: int) -> None:
            while not stop.is_set():
                if which == 0:
                    store.search_runs([exp])
                elif which == 1:
                    store.get_metric_history(runs[counts["reads"] % 20], "m1", max_points=2000)
                else:
                    store.get_run(runs[counts["reads"] % 20])
                counts["reads"] += 1

        def sampler() -> None:
            previous = 0
            while not stop.is_set():
                size = wal_bytes(database)
                sizes.append(size)
                counts["resets"] += size < previous  # a checkpoint truncated it
                previous = size
                time.sleep(0.25)

        threads = [threading.Thread(target=writer), threading.Thread(target=sampler)]
        threads += [threading.Thread(target=reader, args=(i,)) for i in range(3)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
        mb = 1024 * 1024
        print(f"soak {took:.0f} s: {counts['writes']} write transactions "
              f"({counts['writes'] * 200} points), {counts['reads']} reads")
        print(f"WAL largest {max(sizes) / mb:.1f} MB (cap {WAL_CAP_BYTES / mb:.0f} MB), "
              f"final {sizes[-1] / mb:.1f} MB, truncated {counts['resets']} times; "
              f"database {database.stat().st_size / mb:.0f} MB; warning: {store.wal_warning}")
        store.close()


if __name__ == "__main__":
    main()
