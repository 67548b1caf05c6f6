"""`jupyter mlws batch-endpoints list|show|deploy|jobs|keys|delete` (issue 16) against a real folder
workspace with a registered model and a cluster definition (no cluster runs: nothing here starts a
job). `invoke --wait` runs a real job on a server's cluster in tests/jobs/test_batch_endpoints.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlws.cli import main

SCRIPT = "def init():\n    pass\n\n\ndef run(mini_batch):\n    return mini_batch\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose workspace `ws/` has model "lin" (alias production) and cluster "cpu"."""
    from sklearn.linear_model import LinearRegression

    import jupyter_mlws as mlws
    from jupyter_mlws.models.flavors import save_sklearn

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    model = save_sklearn(LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0]), tmp_path / "lin.skops")
    ws = mlws.Workspace(tmp_path / "ws")
    try:
        ws.models.register("lin", model)
        ws.models.set_alias("lin", "production", 1)
        ws.compute.create_cluster("cpu", max_nodes=1)
    finally:
        ws.close()
    (tmp_path / "score.py").write_text(SCRIPT)
    return tmp_path


def cli(home: Path, *argv: str) -> int:
    return main(["-w", str(home / "ws"), *argv])


def test_deploy_list_show_change_keys_jobs_and_delete(home: Path, capsys) -> None:
    assert cli(home, "batch-endpoints", "list") == 0
    assert capsys.readouterr().out.startswith("No batch endpoints yet")
    argv = ["batch-endpoints", "deploy", "lin-batch", "--model", "lin@production", "--target", "cpu"]
    assert cli(home, *argv, "--mini-batch-size", "5", "--timeout", "2m", "--tag", "team=a") == 0
    out = capsys.readouterr().out
    assert out.startswith("Created batch endpoint lin-batch:")
    assert "mini_batch_size  5" in out and "timeout          120.0" in out and "tag team         a" in out
    keys = [
        line.split()[1] for line in out.splitlines() if line.strip().startswith(("primary ", "secondary "))
    ]
    assert len(keys) == 2 and all(len(k) >= 40 for k in keys)

    assert cli(home, "batch-endpoints", "deploy", "lin-batch", "--error-threshold", "4") == 0
    out = capsys.readouterr().out
    assert out.startswith("Changed batch endpoint lin-batch:") and "Keys" not in out
    assert "error_threshold  4" in out and "mini_batch_size  5" in out

    assert (
        cli(home, "batch-endpoints", "deploy", "scripted", "--target", "cpu", "--entry-script", "score.py")
        == 0
    )
    assert "Keys" in capsys.readouterr().out
    assert cli(home, "batch-endpoints", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "model", "script", "target", "mini_batch", "last_job", "last_invoked"]
    assert lines[2].split() == ["lin-batch", "lin@production", "cpu", "5"]
    assert lines[3].split() == ["scripted", "score.py", "cpu", "10"]

    assert cli(home, "batch-endpoints", "show", "lin-batch", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["defaults"]["error_threshold"] == 4 and shown["last_job"] is None
    assert not {"keys", "key_hashes", "entry_source"} & set(shown)
    for key in keys:
        assert key not in json.dumps(shown)
    assert cli(home, "batch-endpoints", "list", "--json") == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)["batch_endpoints"]] == [
        "lin-batch",
        "scripted",
    ]

    assert cli(home, "batch-endpoints", "keys", "lin-batch", "regenerate", "secondary") == 0
    new = capsys.readouterr().out.splitlines()[1].strip()
    assert len(new) >= 40 and new not in keys

    assert cli(home, "batch-endpoints", "jobs", "lin-batch") == 0
    assert "started no job yet" in capsys.readouterr().out
    assert cli(home, "batch-endpoints", "jobs", "lin-batch", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"jobs": []}

    assert cli(home, "batch-endpoints", "delete", "scripted") == 0
    assert "Deleted batch endpoint scripted" in capsys.readouterr().out
    assert cli(home, "batch-endpoints", "show", "scripted") == 2
    assert "batch endpoint 'scripted' not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "x-batch", "--model", "lin", "--target", "gpu"], "Unknown target 'gpu'"),
        (["deploy", "x-batch", "--model", "nope", "--target", "cpu"], "nope"),
        (["deploy", "x-batch", "--target", "cpu"], "needs a model"),
        (["deploy", "x-batch", "--model", "lin"], "needs a target"),
        (
            ["deploy", "x-batch", "--model", "lin", "--target", "cpu", "--mini-batch-size", "0"],
            "mini_batch_size",
        ),
        (
            ["deploy", "x-batch", "--model", "lin", "--target", "cpu", "--mini-batch-size", "a"],
            "whole number",
        ),
        (["deploy", "x-batch", "--model", "lin", "--target", "cpu", "--output-action", "x"], "output_action"),
        (["deploy", "X_batch", "--model", "lin", "--target", "cpu"], "not valid"),
        (["deploy", "x-batch", "--target", "cpu", "--entry-script", "missing.py"], "does not exist"),
        (["keys", "nothing", "regenerate", "tertiary"], "primary or secondary"),
        (["invoke", "nothing", "data:rows"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(home: Path, capsys, argv: list[str], message: str) -> None:
    assert cli(home, "batch-endpoints", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: ") and message in err and len(err.splitlines()) == 1
    assert cli(home, "batch-endpoints", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"batch_endpoints": []}, "nothing was stored"
