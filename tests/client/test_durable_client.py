"""A client that never loses or hides a point (issue 14, items 2, 3 and 5; RELIABILITY K5, K7).

Real processes on 127.0.0.1: a jupyter_server we SIGKILL and start again on the same port with
the same token, and scripts that log through the public API with only the workspace URL and
token in their environment, each with its own spool folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_server import LabServer, start_lab

LOGGER = textwrap.dedent(
    """
    import sys, time
    import jupyter_mlws as mlws
    points, pause = int(sys.argv[1]), float(sys.argv[2])
    with mlws.start_run(experiment="outage", name=sys.argv[3]) as run:
        mlws.log_param("points", points)
        print("RUN", run.id, flush=True)
        for step in range(points):
            mlws.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 100 == 99:
                time.sleep(pause)
                if step % 1000 == 999:
                    print("STEP", step, flush=True)
        mlws.set_tag("finished", "yes")
    print("DONE", flush=True)
    """
)


class Restartable:
    """One jupyter_server that a test may kill and bring back where its clients expect it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.lab: LabServer = start_lab(base / "root", base / "state", app="server")
        self.port = int(self.lab.url.rsplit(":", 1)[1])
        self.down = False

    @property
    def url(self) -> str:
        return self.lab.url

    @property
    def token(self) -> str:
        return self.lab.token

    def kill(self) -> None:
        self.lab.kill()
        self.down = True

    def start(self) -> None:
        self.lab = start_lab(
            self.base / "root", self.base / "state", app="server", port=self.port, token=self.lab.token
        )
        self.down = False


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    made = Restartable(tmp_path_factory.mktemp("durable"))
    try:
        yield made
    finally:
        made.lab.stop()


@pytest.fixture
def server(shared_server: Restartable) -> Restartable:
    """The module's server, up: a test that failed while it was down does not fail the next ones."""
    if shared_server.down:
        shared_server.start()
    return shared_server


def _env(server: Restartable, home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "MLWS_WORKSPACE": server.url + "/",
        "MLWS_TOKEN": server.token,
        "MLWS_SPOOL_DIR": str(home / "spool"),
        **extra,
    }


def _logger(
    server: Restartable, tmp_path: Path, points: int, pause: float, name: str, **env: str
) -> subprocess.Popen[str]:
    script = tmp_path / "logger.py"
    script.write_text(LOGGER)
    return subprocess.Popen(
        [sys.executable, str(script), str(points), str(pause), name],
        cwd=tmp_path,
        env=_env(server, tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float = 60) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line; stderr: {process.stderr.read() if process.stderr else ''}")


def _history(server: Restartable, run_id: str) -> tuple[object, list[int]]:
    from jupyter_mlws import Workspace

    ws = Workspace(server.url, token=server.token)
    run = ws.get_run(run_id)
    return run, run.metric_history("loss")["step"].tolist()


@pytest.mark.catalogue("K7")
def test_a_server_killed_while_logging_and_back_60_s_later_loses_nothing(
    server: Restartable, tmp_path: Path
) -> None:
    # 20,000 points over at least 70 s: the script is still logging when the server is back.
    points = 20_000
    process = _logger(server, tmp_path, points, 0.35, "through-an-outage")
    run_id = _wait_for_line(process, "RUN").split()[1]
    _wait_for_line(process, "STEP")
    server.kill()  # mid-logging, as a crash
    down_at = time.monotonic()
    _wait_for_line(process, "STEP 9999", timeout=120)  # the script goes on meanwhile
    assert process.poll() is None
    time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
    server.start()  # same port, same token, 60 s later
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-2000:]
    assert "DONE" in out and server.token not in err
    run, steps = _history(server, run_id)
    assert steps == list(range(points)), "every point exactly once, in order"
    assert run.status == "completed" and run.tags["finished"] == "yes" and run.params["points"] == str(points)
    assert not list((tmp_path / "spool").glob("*/*.jsonl")), "the spool is empty once delivered"


@pytest.mark.catalogue("K7", "K2")
def test_a_process_that_exits_while_the_server_is_down_leaves_its_points_for_sync(
    server: Restartable, tmp_path: Path
) -> None:
    points = 3_000
    process = _logger(server, tmp_path, points, 0.02, "exits-while-down")
    run_id = _wait_for_line(process, "RUN").split()[1]
    _wait_for_line(process, "STEP")
    server.kill()
    _wait_for_line(process, "DONE", timeout=120)  # the script's last line: what follows is its exit
    done_at = time.monotonic()
    _, err = process.communicate(timeout=120)
    # The script exits 0 within 10 s of its end (RELIABILITY K2), with one line on stderr.
    assert process.returncode == 0
    assert time.monotonic() - done_at < 10, f"exit took {time.monotonic() - done_at:.1f} s"
    said = [line for line in err.splitlines() if line.startswith("jupyter_mlws:")]
    assert len(said) == 1 and "jupyter mlws sync" in said[0] and str(tmp_path / "spool") in said[0], err
    waiting = int(said[0].split()[1].replace(",", ""))
    assert 0 < waiting <= points
    server.start()
    sync = subprocess.run(
        [sys.executable, "-m", "jupyter_mlws.cli", "sync"],
        env=_env(server, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert f"({waiting:,} metric points)" in sync.stdout and "1 run ending sent" in sync.stdout
    run, steps = _history(server, run_id)
    assert steps == list(range(points))
    # Its own ending happened before the server, back up, found its process gone: it wins.
    assert run.status == "completed" and run.tags["finished"] == "yes"
    again = subprocess.run(
        [sys.executable, "-m", "jupyter_mlws.cli", "sync"],
        env=_env(server, tmp_path),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0 and "nothing waits" in again.stdout.lower()


@pytest.mark.catalogue("K7")
def test_a_full_spool_refuses_loudly_and_the_run_says_how_many(server: Restartable, tmp_path: Path) -> None:
    script = tmp_path / "full.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, jupyter_mlws as mlws
            from jupyter_mlws.errors import MLWSError
            run = mlws.start_run(experiment="outage", name="full-spool")
            print("RUN", run.id, flush=True)
            sys.stdin.readline()  # the test stops the server now
            try:
                for step in range(60_000):
                    mlws.log_metric("loss", 0.5, step=step)
                run.workspace.flush()
            except MLWSError as err:
                print("REFUSED", err.message, flush=True)
            run.end()
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(server, tmp_path, MLWS_SPOOL_MAX_MB="0.05"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = _wait_for_line(process, "RUN").split()[1]
    server.kill()
    out, err = process.communicate("go\n", timeout=120)
    refused = [line for line in out.splitlines() if line.startswith("REFUSED")]
    assert refused and "MLWS_SPOOL_MAX_MB" in refused[0] and "were not stored" in refused[0], out + err
    server.start()
    sync = subprocess.run(
        [sys.executable, "-m", "jupyter_mlws.cli", "sync"],
        env=_env(server, tmp_path),
        capture_output=True,
        text=True,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    run, steps = _history(server, run_id)
    refused_points = int(run.tags["mlws.refused_points"])
    assert refused_points > 0 and len(steps) + refused_points <= 60_000
    assert len(steps) == len(set(steps)), "what was kept arrived once"


@pytest.mark.catalogue("K5")
def test_a_run_the_server_ended_refuses_late_data_and_the_client_says_so_once(
    server: Restartable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlws import Workspace
    from jupyter_mlws.client.logger import RunEndedWarning
    from jupyter_mlws.errors import RunEnded

    monkeypatch.setenv("MLWS_SPOOL_DIR", str(tmp_path / "spool"))
    ws = Workspace(server.url, token=server.token)
    run = ws.start_run(experiment="ended", name="lease-lapsed")
    run.log_metric("loss", 1.0, step=0)
    ws.flush()
    # The server ends it for us (as the supervisor does when the lease lapses).
    server.lab.call(
        "PATCH",
        f"/mlws/api/v1/runs/{run.id}",
        {"status": "killed", "status_reason": "no heartbeat (lease lapsed)"},
    )
    time.sleep(0.01)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for step in range(1, 5):
            run.log_metric("loss", 0.5, step=step)
            ws.flush()
    told = [w for w in seen if issubclass(w.category, RunEndedWarning)]
    assert len(told) == 1 and run.id in str(told[0].message) and "lease lapsed" in str(told[0].message)
    with pytest.raises(RunEnded, match="lease lapsed"):
        ws.store.heartbeat(run.id)
    assert ws.logger.ended_runs[run.id] == 4
    assert ws.get_run(run.id).status == "killed"
    assert ws.get_run(run.id).metric_history("loss")["step"].tolist() == [0]
    from jupyter_mlws.client import lifecycle

    lifecycle.forget(run)  # ended by the server: nothing for this process to end at exit
    ws.close()


def test_points_a_script_cannot_store_are_said_on_exit(tmp_path: Path) -> None:
    """Regression: the exit flush swallowed write errors and a script exited 0 with its points
    gone and nothing said. (A folder workspace: its run is deleted before the buffer is written.)"""
    script = tmp_path / "lost.py"
    script.write_text(
        textwrap.dedent(
            """
            import jupyter_mlws as mlws
            ws = mlws.Workspace("ws")
            run = ws.start_run(experiment="lost", name="deleted")
            for step in range(10):
                run.log_metric("loss", 0.1, step=step)
            ws.store.delete_run(run.id)  # before the 0.1 s batch is written
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    said = [line for line in done.stderr.splitlines() if line.startswith("jupyter_mlws:")]
    assert said and "10 metric points" in said[0] and "were not stored" in said[0], done.stderr
