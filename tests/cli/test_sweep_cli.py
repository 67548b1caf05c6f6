"""`jupyter mlws sweep submit|list|show|cancel` (issue 18) against a real workspace; no Jupyter server,
so this test process dispatches (one LocalCluster `cpu` of up to 2 one-CPU nodes for the module)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlws.cli import main

pytestmark = pytest.mark.timeout(240)

TRAIN = """\
import argparse
import jupyter_mlws as mlws

parser = argparse.ArgumentParser()
parser.add_argument("--reg", type=float)
parser.add_argument("--depth", type=int)
args = parser.parse_args()
mlws.log_metric("score", args.depth - args.reg)
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from jupyter_mlws.client.jobs import stop_local_dispatchers
    from jupyter_mlws.client.workspace import Workspace

    folder = tmp_path_factory.mktemp("sweep-cli")
    (folder / "src").mkdir()
    (folder / "src" / "train.py").write_text(TRAIN)
    ws = Workspace(folder / ".mlws")
    ws.compute.create_cluster(
        "cpu", min_nodes=0, max_nodes=2, node={"cpus": 1}, idle_seconds_before_scaledown=30
    )
    ws.close()
    yield folder
    stop_local_dispatchers()


def cli(home: Path, *argv: str) -> int:
    return main(["-w", str(home / ".mlws"), *argv])


def test_submit_a_command_sweep_then_list_and_show_it(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "sweep",
        "submit",
        "--target",
        "cpu",
        "--code",
        str(home / "src"),
        "-e",
        "cli-sweeps",
        "-n",
        "reg",
    ]
    argv += ["--maximize", "score", "--sampling", "grid", "--space", 'reg="choice(0.5, 0.25)"']
    argv += ["--space", "depth=randint(2, 4)", "--wait", "--", "python", "train.py"]
    argv += ["--reg", "${{search_space.reg}}", "--depth", "${{search_space.depth}}"]
    assert cli(home, *argv) == 0
    out = capsys.readouterr().out
    sweep_id = next(
        line.split()[1] for line in out.splitlines() if line.startswith("Sweep ") and "queued" in line
    )
    assert f"Sweep {sweep_id} completed" in out and "score = 2.75" in out, out

    assert cli(home, "sweep", "show", sweep_id[:10], "--json") == 0
    body = json.loads(capsys.readouterr().out)
    trials = body["trials"]
    assert body["sweep"]["state"] == "completed" and len(trials) == 4
    assert trials[0]["score"] == 2.75 and trials[0]["params.depth"] == 3 and trials[0]["params.reg"] == 0.25
    assert {(t["params.reg"], t["params.depth"]) for t in trials} == {
        (0.5, 2),
        (0.5, 3),
        (0.25, 2),
        (0.25, 3),
    }

    assert cli(home, "sweep", "show", sweep_id) == 0
    shown = capsys.readouterr().out
    assert "reg=choice(0.5, 0.25)" in shown and "best        run " in shown and shown.count("completed") >= 5

    assert cli(home, "sweep", "list") == 0
    listing = capsys.readouterr().out
    assert sweep_id in listing and "score" in listing


def test_cancel_kills_the_running_trials(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_mlws.client.workspace import Workspace
    from jupyter_mlws.sweep import uniform

    ws = Workspace(home / ".mlws")
    sweep = ws.jobs.sweep(
        [sys.executable, "-c", "import time; time.sleep(120)", "${{search_space.x}}"],
        search_space={"x": uniform(0, 1)},
        objective="never",
        max_trials=4,
        max_concurrent_trials=2,
        target="cpu",
        experiment="cli-sweeps",
    )
    deadline = __import__("time").monotonic() + 90
    while not (len(sweep.trials()) == 2 and set(sweep.trials()["status"]) == {"running"}):
        assert __import__("time").monotonic() < deadline, sweep.trials()
        __import__("time").sleep(0.1)
    assert cli(home, "sweep", "cancel", sweep.run_id) == 0
    assert "canceled" in capsys.readouterr().out
    table = sweep.trials()
    assert len(table) == 2 and set(table["status"]) == {"canceled"}, table
    assert sweep.refresh().state == "canceled"


def test_bad_sweep_lines_are_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sweep", "submit", "--target", "cpu", "--maximize", "m"]
    cases = [
        ([*base, "--", "python", "-c", "pass"], "give the search space"),
        ([*base, "--space", "lr=gaussian(0, 1)", "--", "python", "-c", "pass"], "unknown distribution"),
        ([*base, "--space", "lr", "--", "python", "-c", "pass"], "NAME="),
        ([*base, "--space", "lr=uniform(0, 1)", "--early-stop", "sometimes", "--", "python"], "--early-stop"),
        ([*base, "--space", "lr=uniform(0, 1)"], "say what each trial runs"),
        (["sweep", "submit", "--target", "cpu", "--space", "lr=uniform(0, 1)", "--", "python"], "--maximize"),
        (["sweep", "show", "nope"], "nope"),
    ]
    for argv, words in cases:
        assert cli(home, *argv) == 2, argv
        assert words in capsys.readouterr().err, argv
