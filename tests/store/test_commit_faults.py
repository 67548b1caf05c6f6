"""RELIABILITY K6 on the database commit: the writes of a process start failing (a real write error
from the kernel, injected with a file-size limit, RLIMIT_FSIZE, on the process that writes the
SQLite file: write(2) fails with EFBIG once the WAL reaches it, which SQLite reports as "disk I/O
error", as it does for EIO). The caller gets a clear error of ours, every write it was told had
been stored is there afterwards and nothing half-written is; the file is sound and takes writes
again once the fault is gone. (The artifact side of K6 is in test_artifacts.py.)"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_mlws.store.factory import open_store

CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, it does not kill
    import jupyter_mlws as mlws
    from jupyter_mlws.store.factory import open_store

    ws = mlws.Workspace("ws")
    run = ws.start_run("k6")
    store = open_store("sqlite:///ws/mlws.db")
    store.set_tags(run.id, {"before": "1"})
    size = sum(os.path.getsize(p) for p in ("ws/mlws.db", "ws/mlws.db-wal") if os.path.exists(p))
    limit = size + int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    report = {"run": run.id, "acked": 0}
    try:
        for batch in range(100_000):
            for i in range(100):
                step = batch * 100 + i
                run.log_metric("x", float(step), step=step)
            run.flush()  # returned: these points are acknowledged
            report["acked"] = (batch + 1) * 100
    except Exception as err:
        report["log_error"] = [type(err).__name__, str(err)]
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))  # now no write of the database succeeds
    try:
        store.set_tags(run.id, {"after": "1"})
        report["tag"] = "stored"
    except Exception as err:
        report["tag_error"] = [type(err).__name__, str(err)]
    print("REPORT " + json.dumps(report), flush=True)
    os._exit(0)  # no exit-time flush: it would only meet the same fault
    """
)


@pytest.mark.catalogue("K6")
def test_a_failing_database_write_is_a_clear_error_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    (tmp_path / "child.py").write_text(CHILD)
    done = subprocess.run(
        [sys.executable, "child.py", str(2_000_000)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-3000:]
    report = json.loads(line[len("REPORT ") :])
    # the logger's error names what was not stored and why; a direct write is refused the same way
    kind, message = report["log_error"]
    assert kind == "Unavailable", report
    assert "metric points of run" in message and "could not be written" in message, message
    assert "disk I/O error" in message and "the disk may be full or failing" in message, message
    kind, message = report["tag_error"]
    assert kind == "Unavailable" and "could not be written during" in message, message
    assert "sqlalche.me" not in message and "Traceback" not in message
    acked = report["acked"]
    assert acked >= 100, report  # the limit let some batches through first
    path = tmp_path / "ws" / "mlws.db"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with open_store(f"sqlite:///{path}") as store:
        series = store.get_metric_history(report["run"], "x")
        # every acknowledged point, and not one of the batch whose commit failed
        assert list(series.steps) == list(range(acked))
        tags = store.get_run(report["run"]).data.tags
        assert tags["before"] == "1" and "after" not in tags
        store.set_tags(report["run"], {"after": "2"})  # the fault gone, the same file takes writes
        store.log_metric(report["run"], "x", 1.0, acked)
        assert store.get_metric_history(report["run"], "x").total_points == acked + 1
        assert store.get_run(report["run"]).data.tags["after"] == "2"
