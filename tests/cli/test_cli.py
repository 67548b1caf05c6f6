"""`jupyter mlws info | experiments | runs`: readable tables, exit status 2 on a domain error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlws.cli import main


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with two experiments and three runs."""
    from jupyter_mlws.client.workspace import Workspace

    folder = tmp_path / "ws"
    monkeypatch.setenv("MLWS_WORKSPACE", str(folder))
    ws = Workspace()
    for name, acc in (("base", 0.81), ("deep", 0.93)):
        with ws.start_run("churn", name) as run:
            run.log_param("lr", "0.01")
            run.log_metric("acc", acc)
    ws.start_run("fraud", "live")  # still running
    ws.flush()
    yield folder
    from jupyter_mlws.client import lifecycle

    for run in lifecycle.open_runs():
        run.end()
    ws.close()


def test_info_names_the_workspace(workspace: Path, capsys) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    from jupyter_mlws.store.sql.schema import SCHEMA_VERSION

    assert f"ML workspace   {workspace}" in out and f"schema       v{SCHEMA_VERSION}" in out
    assert "experiments  2" in out


def test_experiments_table(workspace: Path, capsys) -> None:
    assert main(["experiments"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "name", "runs", "created"]
    assert lines[2].split()[:3] == ["1", "churn", "2"] and lines[3].split()[:3] == ["2", "fraud", "1"]


def test_runs_table_with_experiment_and_filter(workspace: Path, capsys) -> None:
    assert main(["runs", "--experiment", "churn", "--filter", "metrics.acc > 0.9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "run_id",
        "experiment",
        "name",
        "status",
        "start_time",
        "duration",
        "metrics.acc",
        "params.lr",
    ]
    assert len(lines) == 3 and " deep " in lines[2] and "completed" in lines[2] and "0.93" in lines[2]
    assert main(["runs", "--order-by", "name asc"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[2] for r in rows] == ["base", "deep", "live"]
    assert main(["runs", "--filter", "status = 'queued'"]) == 0
    assert capsys.readouterr().out.strip() == "No runs match."


def test_domain_errors_print_the_message_and_exit_2(workspace: Path, capsys) -> None:
    assert main(["runs", "--filter", "metrics.acc >"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: Bad filter at position 13") and "Traceback" not in err


def test_jupyter_finds_the_subcommand(workspace: Path) -> None:
    script = shutil.which(
        "jupyter-mlws", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    if script is None:
        pytest.skip("jupyter-mlws is not installed: run `pip install -e .` to create the script entry")
    jupyter = Path(sys.executable).parent / "jupyter"
    result = subprocess.run([str(jupyter), "mlws", "experiments"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "churn" in result.stdout
    bad = subprocess.run(
        [str(jupyter), "mlws", "--workspace", str(workspace), "runs", "--filter", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Bad filter" in bad.stderr


# ----- jupyter mlws compute (issue 7) -------------------------------------------------------
@pytest.fixture
def compute_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace; kernelspecs go to a Jupyter data dir of this test."""
    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_compute_create_update_delete_and_events(compute_home: Path, capsys) -> None:
    import json

    assert main(["compute", "list"]) == 0
    assert capsys.readouterr().out.startswith("No compute instances yet")
    argv = ["compute", "create", "cpu-small", "--cpus", "1", "--memory", "2GiB", "--idle-minutes", "30"]
    assert main([*argv, "--env", "A=1", "--env", "URL=a=b", "--description", "small box"]) == 0
    out = capsys.readouterr().out
    assert "Created compute instance cpu-small: kernel 'mlws-cpu-small'." in out and "2 GiB" in out
    kernel_file = compute_home / "data" / "kernels" / "mlws-cpu-small" / "kernel.json"
    kernel_json = json.loads(kernel_file.read_text())
    assert kernel_json["display_name"] == "cpu-small (1 CPU, 2 GiB)"
    config = kernel_json["metadata"]["kernel_provisioner"]["config"]
    assert config["instance"]["env"] == {"A": "1", "URL": "a=b"}

    assert main(["compute", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "kernelspec", "cpus", "memory", "gpus", "idle_min", "description"]
    assert lines[2].split() == ["cpu-small", "mlws-cpu-small", "1", "2", "GiB", "0", "30", "small", "box"]

    update = ["compute", "update", "cpu-small", "--memory", "none", "--unset-env", "A", "--env", "B=2"]
    assert main(update) == 0
    assert main(["compute", "show", "cpu-small"]) == 0
    shown = capsys.readouterr().out
    assert "memory         no limit" in shown and "env B          2" in shown and "env A " not in shown
    kernel_json = json.loads(kernel_file.read_text())
    assert kernel_json["display_name"] == "cpu-small (1 CPU)"

    assert main(["compute", "delete", "cpu-small"]) == 0
    assert not (compute_home / "data" / "kernels" / "mlws-cpu-small").exists()
    capsys.readouterr()
    assert main(["compute", "events", "cpu-small"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[4] for r in rows] == ["deleted", "updated", "created"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "Bad_Name"], "instance name 'Bad_Name' is not valid"),
        (["create", "box", "--cpus", "two"], "--cpus must be a whole number or none, not 'two'"),
        (["create", "box", "--memory", "lots"], "memory 'lots' is not a size"),
        (["create", "box", "--idle-minutes", "soon"], "--idle-minutes must be a number of minutes"),
        (["create", "box", "--env", "NOEQUALS"], "--env takes KEY=VALUE, not 'NOEQUALS'"),
        (["update", "box"], "nothing to change"),
        (["update", "box", "--unset-env", "NOPE"], "instance 'box' has no variable NOPE"),
        (["show", "missing"], "missing"),
        (["delete", "missing"], "missing"),
        (["events", "--limit", "0"], "--limit must be from 1 to 10000"),
    ],
)
def test_compute_errors_print_the_message_and_exit_2(compute_home: Path, capsys, argv, message) -> None:
    assert main(["compute", "create", "box", "--cpus", "1"]) == 0
    capsys.readouterr()
    assert main(["compute", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: ") and message in err and "Traceback" not in err, err


# ----- jupyter mlws models / endpoints (issue 8) -------------------------------------------
@pytest.fixture
def registry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace and a small scikit-learn model saved as `model.skops` beside it."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.models.flavors import save_sklearn

    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]], [0, 1, 1, 0])
    save_sklearn(model, tmp_path / "model.skops")
    return tmp_path


def test_models_register_alias_show_and_delete(registry_home: Path, capsys) -> None:
    from jupyter_mlws.client.workspace import Workspace

    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out.startswith("No models yet")
    model = str(registry_home / "model.skops")
    assert main(["models", "register", "churn", model, "--tag", "team=a", "--description", "first"]) == 0
    assert capsys.readouterr().out.startswith("Registered churn version 1 (sklearn, sha256 ")
    ws = Workspace()
    with ws.start_run("training", "fit") as run:
        run.log_artifact(model, "model")
    ws.close()
    assert main(["models", "register", "churn", "--run", run.run_id, "--artifact-path", "model"]) == 0
    assert "Registered churn version 2" in capsys.readouterr().out
    assert main(["models", "alias", "churn", "production", "2"]) == 0
    assert capsys.readouterr().out.strip() == "churn@production -> version 2."

    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "latest", "aliases", "description", "updated"]
    assert lines[2].split()[:3] == ["churn", "2", "production=2"]
    assert main(["models", "show", "churn"]) == 0
    shown = capsys.readouterr().out
    assert "latest         2" in shown and "aliases        production=2" in shown
    rows = [line.split() for line in shown.splitlines() if line[:1].isdigit() or line.startswith("      ")]
    assert [r[0] for r in rows if r and r[0].isdigit()] == ["2", "1"]
    assert main(["models", "show", "churn@production"]) == 0
    version = capsys.readouterr().out
    assert "model          churn:2" in version and f"source run     {run.run_id}" in version
    assert "trusted        no" in version and "files          model.skops" in version

    assert main(["models", "unalias", "churn", "production"]) == 0
    assert main(["models", "delete", "churn:1"]) == 0
    assert "Deleted version 1 of churn." in capsys.readouterr().out
    assert main(["models", "show", "churn:1"]) == 2
    assert main(["models", "delete", "churn"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    assert capsys.readouterr().out.startswith("No models yet")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["register", "churn"], "say where the model is"),
        (["register", "churn", "MODEL", "--artifact-path", "m"], "--artifact-path needs --run"),
        (["register", "churn", "--run", "abc"], "give the artifact path once"),
        (["register", "churn", "MODEL", "--tag", "NOEQUALS"], "--tag takes KEY=VALUE, not 'NOEQUALS'"),
        (["register", "bad name", "MODEL"], "model name 'bad name' is not valid"),
        (["register", "churn", "MODEL", "--flavor", "tensorflow"], "tensorflow"),
        (["register", "churn", "no/such/file.skops"], "no/such/file.skops"),
        (["alias", "churn", "production", "two"], "VERSION must be a whole number from 1, not 'two'"),
        (["alias", "churn", "Prod", "1"], "alias 'Prod' is not valid"),
        (["alias", "churn", "production", "9"], "9"),
        (["unalias", "churn", "staging"], "staging"),
        (["show", "missing"], "missing"),
        (["delete", "churn@production"], "not an alias"),
        (["delete", "churn:7"], "7"),
    ],
)
def test_models_errors_print_the_message_and_exit_2(registry_home: Path, capsys, argv, message) -> None:
    model = str(registry_home / "model.skops")
    assert main(["models", "register", "churn", model]) == 0
    capsys.readouterr()
    assert main(["models", *[model if a == "MODEL" else a for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: ") and message in err and "Traceback" not in err, err


def test_endpoints_served_by_endpoints_serve(registry_home: Path, capsys) -> None:
    """`endpoints serve` runs the manager; deploy/list/show/keys/delete from the CLI use it."""
    import json
    import signal
    import time
    import urllib.error
    import urllib.request

    assert main(["models", "register", "churn", str(registry_home / "model.skops")]) == 0
    assert main(["models", "alias", "churn", "production", "1"]) == 0
    serve = subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlws.cli", "endpoints", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "Serving the endpoints of" in (serve.stdout.readline() if serve.stdout else "")
        capsys.readouterr()
        assert main(["endpoints", "deploy", "churn-api", "churn@production"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("Endpoint churn-api is running: POST http://127.0.0.1:")
        keys = dict(
            line.split() for line in out.splitlines() if line.startswith(("  primary ", "  secondary "))
        )
        url = out.splitlines()[0].split("POST ")[1]

        def score(key: str) -> int:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            request = urllib.request.Request(url, json.dumps([{"a": 0.9, "b": 0.1}]).encode(), headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as err:
                return err.code

        assert score(keys["primary"]) == 200 and score("wrong") == 401
        for argv in (["endpoints", "list"], ["endpoints", "show", "churn-api"]):
            assert main(argv) == 0
            shown = capsys.readouterr().out
            assert "churn-api" in shown and "churn@production" in shown and "running" in shown
            assert keys["primary"] not in shown and keys["secondary"] not in shown
        assert main(["endpoints", "keys", "churn-api", "regenerate", "secondary"]) == 0
        new_key = capsys.readouterr().out.splitlines()[1].strip()
        deadline = time.monotonic() + 5
        while score(keys["secondary"]) != 401:
            assert time.monotonic() < deadline, "the old secondary key still works"
            time.sleep(0.1)
        assert score(new_key) == 200 and score(keys["primary"]) == 200

        assert main(["endpoints", "logs", "churn-api", "--lines", "5"]) == 0
        logged = capsys.readouterr().out
        assert "serving churn-api: blue=churn:" in logged and keys["primary"] not in logged
        assert main(["endpoints", "logs", "churn-api", "--lines", "0"]) == 2
        assert "--lines must be a whole number from 1 to 10000" in capsys.readouterr().err
        assert main(["endpoints", "keys", "churn-api", "regenerate", "tertiary"]) == 2
        assert "primary or secondary, not 'tertiary'" in capsys.readouterr().err
        assert main(["endpoints", "deploy", "x", "churn", "--replicas", "zero"]) == 2
        assert "--replicas must be a whole number from 1 to 64, not 'zero'" in capsys.readouterr().err
        assert main(["models", "delete", "churn"]) == 2
        assert "served by endpoint churn-api" in capsys.readouterr().err
        assert main(["endpoints", "delete", "churn-api"]) == 0
        assert main(["endpoints", "show", "churn-api"]) == 2
        assert "churn-api" in capsys.readouterr().err
    finally:
        serve.send_signal(signal.SIGTERM)
        tail = serve.communicate(timeout=30)[0]
    assert serve.returncode == 0 and "Stopped serving." in tail, tail


def test_endpoints_deploy_needs_a_running_manager(registry_home: Path, capsys) -> None:
    assert main(["models", "register", "churn", str(registry_home / "model.skops")]) == 0
    capsys.readouterr()
    assert main(["endpoints", "deploy", "churn-api", "churn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: no endpoint manager runs the workspace") and "endpoints serve" in err
    assert main(["endpoints", "list"]) == 0
    assert capsys.readouterr().out.startswith("No endpoints yet"), "nothing was deployed"


def test_clusters_from_the_command_line(workspace: Path, capsys) -> None:
    """Issue 15: define, change, list, attach and detach clusters; bad input is one line, status 2."""
    assert (
        main(
            [
                "compute",
                "cluster",
                "create",
                "cpu-cluster",
                "--max-nodes",
                "3",
                "--node-memory",
                "1GiB",
                "--idle-seconds",
                "30",
            ]
        )
        == 0
    )
    assert main(["compute", "attach", "hpc", "tcp://10.1.1.1:8786"]) == 0
    assert main(["compute", "cluster", "update", "cpu-cluster", "--max-nodes", "4"]) == 0
    capsys.readouterr()
    assert main(["compute", "cluster", "list"]) == 0
    listed = capsys.readouterr().out
    assert "cpu-cluster  cluster   stopped" in listed and "1 CPU, 1 GiB, 0 GPU" in listed
    assert "tcp://10.1.1.1:8786" in listed and "nan" not in listed
    assert main(["compute", "cluster", "create", "bad", "--min-nodes", "5", "--max-nodes", "2"]) == 2
    assert "min_nodes (5) is more than max_nodes (2)" in capsys.readouterr().err
    assert main(["compute", "detach", "cpu-cluster"]) == 2  # not an attached one
    assert main(["compute", "detach", "hpc"]) == 0
    assert main(["compute", "cluster", "delete", "cpu-cluster"]) == 0
    assert main(["compute", "cluster", "start", "nope"]) == 2
    assert "not found" in capsys.readouterr().err
