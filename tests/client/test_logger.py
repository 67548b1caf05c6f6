"""The batching metric logger and process endings: flush by time, backpressure, errors that
surface, heartbeats, and runs ended at exit / on SIGTERM in real subprocesses (RELIABILITY K2, K3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_mlws.client.logger import MetricLogger
from jupyter_mlws.errors import NotFound
from jupyter_mlws.store.factory import open_store

T0 = 1_700_000_000_000


def _wait_for(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def test_points_are_written_by_time_without_a_flush(ws) -> None:
    run = ws.start_run("e")
    run.log_metric("loss", 0.5, step=1)
    with open_store(ws.location.store_url) as reader:
        assert _wait_for(lambda: reader.get_run(run.id).data.metrics) == {"loss": 0.5}
    run.end()


def test_a_point_after_a_quiet_spell_is_written_within_the_flush_interval(ws) -> None:
    """A live reader (a sweep's driver deciding early termination, a chart) sees a point about
    FLUSH_SECONDS (0.1 s) after it was logged, even when the writer had gone idle; it used to sleep
    until its next idle wake-up, up to 1 s later (seen: a Bandit decision 1.0 s after its point)."""
    run = ws.start_run("e")
    logger = MetricLogger(ws.store, flush_seconds=0.1)
    logger.log(run.id, "loss", 1.0, 0, T0)
    logger.flush()  # written: the writer now sleeps its idle wait
    time.sleep(0.05)
    logged = time.monotonic()
    logger.log(run.id, "loss", 0.5, 1, T0 + 1)
    with open_store(ws.location.store_url) as reader:
        seen = _wait_for(lambda: reader.get_metric_history(run.id, "loss").total_points == 2, 5.0)
        waited = time.monotonic() - logged
    assert seen and waited < 0.6, f"the point was written {waited:.2f} s after it was logged"
    logger.close()
    run.end()


def test_full_buffer_blocks_instead_of_dropping(ws) -> None:
    run = ws.start_run("e")
    logger = MetricLogger(ws.store, flush_points=10_000, flush_seconds=30.0, max_buffered=50)
    for i in range(2000):
        logger.log(run.id, "x", float(i), i, T0 + i)
    logger.flush()
    assert ws.store.get_metric_history(run.id, "x").total_points == 2000
    logger.close()
    run.end()


def test_a_failed_write_is_reported_not_dropped_silently(ws) -> None:
    logger = MetricLogger(ws.store)
    logger.log("0" * 32, "loss", 1.0, 0, T0)
    with pytest.raises(NotFound, match=r"1 metric points of run 0{32} were not stored"):
        logger.flush()
    logger.close()


def test_heartbeat_moves_while_the_logger_lives(ws) -> None:
    run = ws.start_run("e")
    first = run.info.heartbeat_time
    logger = MetricLogger(ws.store, heartbeat_seconds=0.2)
    logger.watch(run.id)
    assert _wait_for(lambda: ws.store.get_run(run.id).info.heartbeat_time > first)
    logger.unwatch(run.id)
    logger.close()
    run.end()


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MLWS_WORKSPACE": str(tmp_path / "ws")}


def _only_run(tmp_path: Path):
    with open_store(f"sqlite:///{tmp_path}/ws/mlws.db") as store:
        table = store.search_runs()
        assert len(table.runs) == 1
        info = table.runs[0]
        return info, store.get_metric_history(info.run_id, "loss").total_points


@pytest.mark.catalogue("K3")
def test_script_exit_flushes_and_completes(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import jupyter_mlws as mlws
        mlws.start_run(experiment="script")
        for i in range(20000):
            mlws.log_metric("loss", 1.0 / (i + 1))
    """,
    )
    subprocess.run(argv, env=_env(tmp_path), check=True, timeout=120)
    info, points = _only_run(tmp_path)
    assert info.status.value == "completed" and points == 20000


@pytest.mark.catalogue("K3")
def test_uncaught_exception_fails_the_run(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import jupyter_mlws as mlws
        mlws.start_run(experiment="script")
        mlws.log_metric("loss", 1.0)
        raise RuntimeError("boom")
    """,
    )
    result = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "RuntimeError: boom" in result.stderr
    info, points = _only_run(tmp_path)
    assert info.status.value == "failed" and "boom" in info.status_reason and points == 1


@pytest.mark.catalogue("K2")
def test_sigterm_flushes_kills_the_run_and_chains_the_old_handler(tmp_path: Path) -> None:
    marker = tmp_path / "previous-handler-ran"
    argv = _script(
        tmp_path,
        f"""
        import signal, sys, time
        def previous(signum, frame):
            open({str(marker)!r}, "w").close()
            sys.exit(143)
        signal.signal(signal.SIGTERM, previous)
        import jupyter_mlws as mlws
        run = mlws.start_run(experiment="script")
        for i in range(5000):
            mlws.log_metric("loss", float(i))
        print("ready", flush=True)
        time.sleep(60)
    """,
    )
    proc = subprocess.Popen(argv, env=_env(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 143
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    assert marker.exists()
    info, points = _only_run(tmp_path)
    assert info.status.value == "killed" and info.status_reason == "SIGTERM" and points == 5000


@pytest.mark.catalogue("K2")
def test_sigterm_with_the_default_handler_still_terminates(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import time
        import jupyter_mlws as mlws
        mlws.start_run(experiment="script")
        mlws.log_metric("loss", 1.0)
        print("ready", flush=True)
        time.sleep(60)
    """,
    )
    proc = subprocess.Popen(argv, env=_env(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    info, points = _only_run(tmp_path)
    assert info.status.value == "killed" and points == 1
