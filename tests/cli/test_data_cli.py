"""`jupyter mlws data register|list|show|download|runs` (issue 16) against a real folder workspace.

The lineage a job leaves on its run (the tags `mlws.data` and `mlws.data.<input>`, written by
`ws.jobs.submit`, tested with real jobs in tests/jobs/test_jobs.py) is written here onto plain runs,
so these tests start no cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlws.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with `data/` (two CSV files, a note, a sub-folder); the workspace is `ws/`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    data = tmp_path / "data"
    (data / "2024").mkdir(parents=True)
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "b.csv").write_text("x,y\n3,4\n")
    (data / "notes.txt").write_text("not a table")
    (data / "2024" / "c.csv").write_text("x,y\n5,6\n")
    return tmp_path


def cli(home: Path, *argv: str) -> int:
    return main(["-w", str(home / "ws"), *argv])


def _workspace(home: Path):
    from jupyter_mlws.client.workspace import Workspace

    return Workspace(home / "ws")


def test_register_list_show_and_download(home: Path, capsys) -> None:
    assert cli(home, "data", "list") == 0
    assert capsys.readouterr().out.startswith("No data assets yet")
    argv = ["data", "register", "batch", "data/*.csv", "--description", "the tables", "--tag", "team=a"]
    assert cli(home, *argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Registered batch version 1 (2 files, 16 B, sha256 ") and out.endswith(").\n")
    assert cli(home, "data", "register", "batch", str(home / "data" / "*.csv")) == 0
    assert capsys.readouterr().out.startswith("Unchanged: batch:1 already holds these files (2 files")
    assert cli(home, "data", "register", "batch", "data") == 0
    assert capsys.readouterr().out.startswith("Registered batch version 2 (4 files, ")
    assert cli(home, "data", "register", "notes", "data/notes.txt") == 0
    capsys.readouterr()

    assert cli(home, "data", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "latest", "description", "updated"]
    assert [line.split()[:2] for line in lines[2:]] == [["batch", "2"], ["notes", "1"]]
    assert "the tables" in lines[2], "an asset keeps the description of its first version"

    assert cli(home, "data", "show", "batch:1") == 0
    shown = capsys.readouterr().out
    assert "data           batch:1  (newest: 2)" in shown and "size           16 B in 2 files" in shown
    assert "source         data/*.csv" in shown and "tag team       a" in shown
    versions = shown.split("Versions of batch (newest first):\n")[1].split("\n\n")[0].splitlines()
    assert [row.split()[:2] for row in versions[2:]] == [["2", "4"], ["1", "2"]]
    files = shown.split("Files of batch:1:\n")[1].splitlines()
    assert [row.split()[-1] for row in files[2:]] == ["a.csv", "b.csv"]
    assert cli(home, "data", "show", "batch") == 0
    newest = capsys.readouterr().out
    assert "data           batch:2  (the newest)" in newest and "2024/c.csv" in newest
    assert cli(home, "data", "show", "batch@latest") == 0
    assert capsys.readouterr().out == newest

    assert cli(home, "data", "show", "data:batch:1", "--json") == 0  # a job's spelling is taken too
    as_json = json.loads(capsys.readouterr().out)
    ws = _workspace(home)
    assert as_json == ws.data.get("batch:1").to_dict()
    ws.close()
    assert cli(home, "data", "list", "--json") == 0
    assets = json.loads(capsys.readouterr().out)["assets"]
    assert [(a["name"], a["latest_version"]) for a in assets] == [("batch", 2), ("notes", 1)]

    assert cli(home, "data", "download", "batch", "copy") == 0
    assert capsys.readouterr().out == f"Downloaded batch:2 (4 files, 35 B) to {home / 'copy'}.\n"
    assert (home / "copy" / "2024" / "c.csv").read_text() == "x,y\n5,6\n"
    assert sorted(p.name for p in (home / "copy").iterdir()) == ["2024", "a.csv", "b.csv", "notes.txt"]


def test_runs_names_the_runs_that_read_a_version_and_through_which_input(home: Path, capsys) -> None:
    from jupyter_mlws.client.jobs import DATA_LINEAGE_TAG

    ws = _workspace(home)
    ws.data.register("a_b", path="data/a.csv")
    ws.data.register("axb", path="data/b.csv")
    ws.data.register("a_b", path="data/notes.txt")
    readers = {
        "both": {"train": "a_b:1", "test": "axb:1"},
        "other": {"rows": "axb:1"},
        "newer": {"rows": "a_b:2"},
    }
    for name, inputs in readers.items():  # the tags ws.jobs.submit gives a job's run
        tags = {f"{DATA_LINEAGE_TAG}.{k}": v for k, v in inputs.items()}
        tags[DATA_LINEAGE_TAG] = f" {' '.join(sorted(set(inputs.values())))} "
        ws.start_run("readers", name, tags=tags).end()
    ws.close()

    assert cli(home, "data", "runs", "a_b:1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run_id", "experiment", "name", "status", "start_time", "inputs"]
    assert len(lines) == 3, "'_' in a name is a name's letter, not a wildcard: axb:1's reader is not listed"
    assert lines[2].split()[1:4] == ["readers", "both", "completed"] and lines[2].endswith(" train")
    assert cli(home, "data", "runs", "axb", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted((r["name"], tuple(r["inputs"])) for r in found) == [
        ("both", ("test",)),
        ("other", ("rows",)),
    ]
    assert all(r["status"] == "completed" and r["experiment"] == "readers" for r in found)
    ws = _workspace(home)
    (started,) = [r for r in found if r["name"] == "other"]
    assert started["run_id"] in set(ws.data.runs("axb:1")["run_id"])
    ws.close()
    assert cli(home, "data", "register", "unread", "data/b.csv") == 0
    capsys.readouterr()
    assert cli(home, "data", "runs", "unread") == 0
    assert capsys.readouterr().out.startswith("No run has read unread:1 yet")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["register", "x", "data/*.parquet"], "The pattern 'data/*.parquet' matches no files."),
        (["register", "x", "data/a.csv", "data/b.csv"], "give one PATH, not 2; quote a glob"),
        (["register", "x", "missing/"], "missing/"),
        (["register", "bad name", "data"], "'bad name' is not valid"),
        (["register", "x", "data", "--tag", "NOEQUALS"], "--tag takes KEY=VALUE, not 'NOEQUALS'"),
        (["show", "nothing"], "data asset 'nothing' not found"),
        (["show", "batch:7"], "data asset 'batch' has no version 7"),
        (
            ["show", "batch:two"],
            "A data reference is 'name', 'name:version' or 'name@latest', not 'batch:two'.",
        ),
        (["show", "batch@production"], "not 'batch@production'"),
        (["show", "batch:0"], "a data version is a number >= 1, not 0"),
        (["download", "nothing:1", "out"], "data asset 'nothing' not found"),
        (["runs", "batch:x"], "not 'batch:x'"),
        (["runs", "batch:3"], "has no version 3"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(home: Path, capsys, argv, message) -> None:
    assert cli(home, "data", "register", "batch", "data") == 0
    capsys.readouterr()
    assert cli(home, "data", *argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("mlws: ") and message in captured.err, captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err and not captured.out
    assert not (home / "out").exists()
    ws = _workspace(home)
    assert list(ws.data.list()["name"]) == ["batch"] and list(ws.data.versions("batch")["version"]) == [1]
    ws.close()


def test_the_command_line_as_a_process(home: Path) -> None:
    """What a shell sees: `data` alone prints its verbs (status 2); an unknown ref is one line on stderr."""
    argv = [sys.executable, "-m", "jupyter_mlws.cli", "-w", str(home / "ws"), "data"]
    bare = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and "register" in bare.stdout and "download" in bare.stdout
    unknown = subprocess.run([*argv, "show", "nothing"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and unknown.stderr == "mlws: data asset 'nothing' not found\n"
    assert not unknown.stdout
