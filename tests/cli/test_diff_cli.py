"""`jupyter mlws diff A B`: the parts that differ, as text or JSON; `--exit-code` as git's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlws.cli import main


@pytest.fixture
def two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from jupyter_mlws.client.snapshot import take_snapshot
    from jupyter_mlws.client.workspace import Workspace

    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace()
    project = tmp_path / "project"
    project.mkdir()
    ids = []
    for lr in ("0.1", "0.2"):
        (project / "train.py").write_text(f"lr = {lr}\n")
        with ws.start_run("cli", f"lr {lr}") as run:
            run.log_param("lr", lr)
            run.log_param("epochs", 3)
            take_snapshot(run, project)
        ids.append(run.id)
    yield ids
    ws.close()


def test_diff_prints_each_part_that_differs(two_runs: list[str], capsys) -> None:
    a, b = two_runs
    assert main(["diff", a, b]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Run {a} vs run {b}: they differ")
    assert "== params ==" in out and "lr   0.1  0.2  changed" in out and "epochs" not in out
    assert "-- train.py: changed" in out and "-lr = 0.1\n+lr = 0.2\n" in out
    assert "== cells ==" not in out  # no notebook in either run

    assert main(["diff", a, b, "--part", "code", "--exit-code"]) == 1
    out = capsys.readouterr().out
    assert "== code ==" in out and "== params ==" not in out
    assert main(["diff", a, a, "--exit-code"]) == 0
    assert "identical" in capsys.readouterr().out


def test_diff_as_json_and_bad_input(two_runs: list[str], capsys) -> None:
    a, b = two_runs
    assert main(["diff", a, b, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["identical"] is False and data["parts"]["params"] == [
        {"key": "lr", "a": "0.1", "b": "0.2", "change": "changed"}
    ]
    assert main(["diff", a, "nope"]) == 2
    assert "Run 'nope' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["diff", a, b, "--part", "everything"])
    assert "invalid choice" in capsys.readouterr().err


def scripted_run(ws, project: Path, name: str, printed: str, logged: str) -> str:
    """A run whose history is one cell that prints `printed`, and whose recorded log is `logged`."""
    from jupyter_mlws.client.snapshot import take_snapshot

    with ws.start_run("cli", name, tags={"mlws.execution_count": 1}) as run:
        run.log_text(logged, "logs/output.txt")
        take_snapshot(run, project, history=[(1, f"print({printed!r})")])
    return run.id


def test_replay_prints_the_verdict_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from jupyter_mlws.client.workspace import Workspace

    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    project = tmp_path / "p"
    project.mkdir()
    ws = Workspace()
    same = scripted_run(ws, project, "same", "hello", "hello\n")
    other = scripted_run(ws, project, "other", "hello", "goodbye\n")
    ws.close()
    assert main(["replay", same, "--exit-code"]) == 0
    assert f"Replay of run {same}: reproduced" in capsys.readouterr().out
    assert main(["replay", other, "--exit-code", "--timeout", "60"]) == 1
    out = capsys.readouterr().out
    assert (
        f"Replay of run {other}: diverged" in out
        and "first diverging cell: In[1]: the cell's log differs" in out
    )
    assert main(["replay", other, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "diverged"
    assert main(["replay", same, "--kernel", "no-such-kernel"]) == 2
    assert "There is no kernel 'no-such-kernel'" in capsys.readouterr().err
