"""`jupyter mlws jobs submit|list|show|logs -f|cancel` (issue 15) against a real workspace.

No Jupyter server runs for the module's workspace, so the process that submits dispatches: the
in-process commands share this test process's dispatcher and one LocalCluster (`cpu`, up to 2
nodes of 1 CPU) for the whole module; the standalone tests start the command line as a process of
its own, which starts its own cluster. One test goes through a Jupyter server's URL instead (the
server dispatches; `submit` returns at once).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jupyter_mlws.cli import main
from jupyter_mlws.cli.jobs import _parameters

pytestmark = pytest.mark.timeout(240)

TRAIN = """\
import argparse, os, sys
import jupyter_mlws as mlws

parser = argparse.ArgumentParser()
parser.add_argument("--reg", type=float, default=1.0)
parser.add_argument("--data", default=None)
args = parser.parse_args()
print("greeting", os.environ.get("GREETING"), flush=True)
if args.data:
    print("rows", len(open(args.data).read().splitlines()), flush=True)
print("to stderr", file=sys.stderr, flush=True)
for step in range(3):
    mlws.log_metric("loss", args.reg / (step + 1), step=step)
    print("step", step, flush=True)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as handle:
    handle.write(f"reg={args.reg}")
"""

COUNTER = "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.1)"


def _notebook(path: Path) -> None:
    import nbformat

    defaults = nbformat.v4.new_code_cell("alpha = 1.0\nsolver = 'sgd'\nlayers = [8]")
    defaults.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import jupyter_mlws as mlws\n"
        "print('alpha', alpha, 'solver', solver, 'layers', layers)\n"
        "mlws.log_metric('alpha', alpha)"
    )
    nb = nbformat.v4.new_notebook(cells=[defaults, body])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace with the cluster `cpu`, a code folder (with a notebook and a CSV in it)."""
    from jupyter_mlws.client.jobs import stop_local_dispatchers
    from jupyter_mlws.client.workspace import Workspace

    folder = tmp_path_factory.mktemp("jobs-cli")
    src = folder / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    (src / "data.csv").write_text("a,b\n1,2\n3,4\n")
    _notebook(src / "train.ipynb")
    ws = Workspace(folder / ".mlws")
    ws.compute.create_cluster(
        "cpu", min_nodes=0, max_nodes=2, node={"cpus": 1, "memory": "1GiB"}, idle_seconds_before_scaledown=30
    )
    ws.close()
    yield folder
    stop_local_dispatchers()  # this process's dispatcher and the cluster it started


def cli(home: Path, *argv: str) -> int:
    return main(["-w", str(home / ".mlws"), *argv])


def _workspace(home: Path):
    from jupyter_mlws.client.workspace import Workspace

    return Workspace(home / ".mlws")


def _job_id(text: str) -> str:
    """The id in `Job <id> 'name' queued on ...`."""
    line = next(line for line in text.splitlines() if line.startswith("Job ") and " queued on " in line)
    return line.split()[1]


def _until(check, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def test_submit_streams_a_command_job_and_records_its_run(home: Path, capsys) -> None:
    argv = ["jobs", "submit", "--target", "cpu", "--code", str(home / "src"), "-e", "diabetes"]
    argv += ["--env", "GREETING=hi", "--stream", "--", "python", "train.py", "--reg", "0.01"]
    assert cli(home, *argv) == 0
    out, err = capsys.readouterr()
    assert out == "greeting hi\nstep 0\nstep 1\nstep 2\n", "stdout is the job's stdout, nothing else"
    assert "to stderr" in err and "queued on cpu (experiment diabetes, run " in err
    assert "completed, exit code 0" in err
    ws = _workspace(home)
    run = ws.jobs.get(_job_id(err)).run
    assert run.status == "completed" and run.params == {"args.reg": "0.01"}
    assert run.metrics["loss"] == pytest.approx(0.01 / 3)
    assert {"outputs/model.txt", "logs/std_log.txt"} <= set(run.artifacts()["path"])
    ws.close()


def test_an_input_reaches_the_node(home: Path, capsys) -> None:
    src = home / "src"
    argv = ["jobs", "submit", "--target", "cpu", "--code", str(src), "--input", f"data={src / 'data.csv'}"]
    assert cli(home, *argv, "--stream", "--", "python", "train.py", "--data", "${{inputs.data}}") == 0
    assert "rows 3\n" in capsys.readouterr().out


def test_wait_exits_1_when_the_job_fails_and_show_and_logs_say_why(home: Path, capsys) -> None:
    code = "import sys; print('bad data'); sys.exit(3)"
    assert (
        cli(home, "jobs", "submit", "--target", "cpu", "-n", "boom", "--wait", "--", "python", "-c", code)
        == 1
    )
    out, err = capsys.readouterr()
    job_id = _job_id(out)
    assert f"Job {job_id} failed, exit code 3: exit code 3" in err
    assert cli(home, "jobs", "show", job_id[:10]) == 0  # a unique start of the id will do
    shown = capsys.readouterr().out
    assert "state           failed (exit code 3)" in shown and "exit code       3" in shown
    assert f"command         python -c {code}" in shown and "attempt         1 of at most 1" in shown
    assert cli(home, "jobs", "logs", job_id) == 0
    assert capsys.readouterr().out == "bad data\n"
    assert cli(home, "jobs", "cancel", job_id) == 0
    assert "already ended failed: nothing to cancel" in capsys.readouterr().out


def test_notebook_job_with_parameters(home: Path, capsys) -> None:
    argv = ["jobs", "submit", "--target", "cpu", "--code", str(home / "src"), "--notebook", "train.ipynb"]
    argv += ["-p", "alpha=0.5", "-p", "solver=lbfgs", "-p", "layers=[64, 32]", "--wait"]
    assert cli(home, *argv) == 0
    job_id = _job_id(capsys.readouterr().out)
    ws = _workspace(home)
    job = ws.jobs.get(job_id)
    assert "alpha 0.5 solver lbfgs layers [64, 32]" in job.logs()
    assert job.run.metrics == {"alpha": 0.5}
    assert "outputs/train.ipynb" in set(job.run.artifacts()["path"])
    ws.close()


def test_queue_positions_live_logs_and_cancel(home: Path, capsys) -> None:
    """Two running jobs fill the cluster; the next two wait, the higher priority first; `logs -f`
    in another process follows a running job until `cancel` kills its process."""
    ws = _workspace(home)
    counter = ["python", "-c", COUNTER]
    busy = [ws.jobs.submit(command=counter, target="cpu", name=f"busy-{i}") for i in range(2)]
    try:
        _until(lambda: all(j.status == "running" for j in busy), what="both nodes busy")
        low = ws.jobs.submit(command=["python", "-V"], target="cpu", name="low")
        high = ws.jobs.submit(command=["python", "-V"], target="cpu", name="high", priority=5)
        capsys.readouterr()
        assert cli(home, "jobs", "list", "--state", "queued") == 0
        rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
        assert [(r[1], r[5]) for r in rows] == [("high", "1"), ("low", "2")]
        assert cli(home, "jobs", "show", low.id) == 0
        assert "queue position  2" in capsys.readouterr().out
        assert cli(home, "jobs", "cancel", low.id) == 0
        assert f"Job {low.id} canceled: canceled before it started" in capsys.readouterr().out

        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_mlws.cli",
                "-w",
                str(home / ".mlws"),
                "jobs",
                "logs",
                "-f",
                busy[0].id,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout.readline().startswith("tick ")
            pid = busy[0].refresh().pid
            assert pid and psutil.pid_exists(pid)
            started = time.monotonic()
            assert cli(home, "jobs", "cancel", busy[0].id) == 0
            assert f"Job {busy[0].id} canceled" in capsys.readouterr().out
            _until(lambda: not _alive(pid), timeout=2, what="the job's process gone")
            assert time.monotonic() - started < 2
            _, err = follower.communicate(timeout=30)
        finally:
            follower.kill()
        assert follower.returncode == 0 and f"Job {busy[0].id} canceled" in err
        assert high.wait(30).status == "completed"
    finally:
        for job in busy:
            job.cancel(wait=0)
        ws.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--target", "nope", "--", "python", "x.py"],
            "Unknown target 'nope': the clusters of this workspace are 'cpu'",
        ),
        (["--target", "cpu"], "say what to run: a command after --"),
        (["--target", "cpu", "-p", "a=1", "--", "python", "x.py"], "-p sets a notebook's parameters"),
        (["--target", "cpu", "--notebook", "x.ipynb", "--", "python"], "give --notebook or a command"),
        (["--target", "cpu", "--notebook", "missing.ipynb"], "The notebook 'missing.ipynb' does not exist"),
        (
            ["--target", "cpu", "--", "no-such-program-here"],
            "The command 'no-such-program-here' does not exist",
        ),
        (
            ["--target", "cpu", "--code", "no/such/dir", "--", "python", "x.py"],
            "code folder 'no/such/dir' does not",
        ),
        (
            ["--target", "cpu", "--input", "x=/etc/passwd", "--", "python", "-V"],
            "is outside the allowed roots",
        ),
        (["--target", "cpu", "--timeout", "soon", "--", "python", "-V"], "timeout 'soon' is not seconds"),
        (["--target", "cpu", "--priority", "high", "--", "python", "-V"], "--priority takes a whole number"),
        (["--target", "cpu", "--max-retries", "-1", "--", "python", "-V"], "--max-retries must be 0 or more"),
        (
            ["--target", "cpu", "--cpus", "8", "--", "python", "-V"],
            "asks for 8 CPUs but a node of 'cpu' has 1",
        ),
        (
            ["--target", "cpu", "--env", "NOVALUE", "--", "python", "-V"],
            "--env takes KEY=VALUE, not 'NOVALUE'",
        ),
    ],
)
def test_bad_submits_are_one_line_and_queue_nothing(
    home: Path, capsys, argv: list[str], message: str
) -> None:
    ws = _workspace(home)
    before = len(ws.store.list_jobs(limit=10_000))
    assert cli(home, "jobs", "submit", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlws: ") and message in err and "Traceback" not in err
    assert len(ws.store.list_jobs(limit=10_000)) == before
    ws.close()


def test_other_bad_input(home: Path, capsys) -> None:
    assert cli(home, "jobs", "show", "nope") == 2
    assert "not found" in capsys.readouterr().err
    assert cli(home, "jobs", "list", "--state", "done") == 2
    assert "--state is one of queued, running" in capsys.readouterr().err
    assert cli(home, "jobs", "cancel", "0123456789") == 2
    assert "No job has an id starting with '0123456789'" in capsys.readouterr().err


def test_parameters_are_json_when_they_are_json() -> None:
    given = ["alpha=0.1", "solver=lbfgs", "layers=[64, 32]", "flag=true", "nothing=null", "text=a=b"]
    assert _parameters(given) == {
        "alpha": 0.1,
        "solver": "lbfgs",
        "layers": [64, 32],
        "flag": True,
        "nothing": None,
        "text": "a=b",
    }


# ----- standalone: the command line as a process of its own ---------------------------------
def _standalone(home: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlws.cli", "-w", str(home / ".mlws"), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # signals from this test reach only what they are sent to
        # as a terminal starts it: Ctrl-C raises KeyboardInterrupt. A suite started in the background
        # by a non-interactive shell ignores SIGINT, which its children inherit (the CLI then never
        # saw the test's SIGINT: seen when CI ran as `nohup bash .ci/run &`)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_a_standalone_submit_stream_dispatches_from_its_own_process(home: Path) -> None:
    argv = ["jobs", "submit", "--target", "cpu", "--code", str(home / "src"), "--stream"]
    proc = _standalone(home, *argv, "--", "python", "train.py", "--reg", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out == "greeting None\nstep 0\nstep 1\nstep 2\n"
    assert "completed, exit code 0" in err


def test_ctrl_c_cancels_the_job_this_process_runs(home: Path) -> None:
    proc = _standalone(
        home, "jobs", "submit", "--target", "cpu", "-n", "interrupted", "--", "python", "-c", COUNTER
    )
    try:
        ws = _workspace(home)
        _until(
            lambda: any(
                j.name == "interrupted" and j.state == "running" for j in ws.store.list_jobs(limit=5)
            ),
            timeout=60,
            what="the job running",
        )
        # to the command alone (`kill -INT`): a terminal's Ctrl-C reaches the Dask workers this
        # process started too, and the job may then end `killed` (node lost) before the cancel lands
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "this command runs the job and waits for it (Ctrl-C stops it)" in err
    job = ws.jobs.get(_job_id(out))
    assert job.status == "canceled"
    ws.close()


# ----- through a Jupyter server: the server dispatches ---------------------------------------
@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {
            "workspace": str(jp_root_dir / "ws"),
            "cluster_interval": 0.2,
            "compute_interval": 0,
        },
    }


def test_through_a_server_submit_returns_at_once_and_logs_follow(
    home: Path, live_server, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from jupyter_mlws.client.workspace import Workspace

    monkeypatch.setenv("MLWS_TOKEN", live_server.token)
    ws = Workspace(live_server.url)
    ws.compute.create_cluster("cpu", max_nodes=1, node={"cpus": 1, "memory": "1GiB"})
    argv = ["-w", live_server.url, "jobs", "submit", "--target", "cpu", "--code", str(home / "src")]
    started = time.monotonic()
    assert main([*argv, "--", "python", "train.py"]) == 0
    assert time.monotonic() - started < 10, "the server runs the job: submit does not wait for it"
    out = capsys.readouterr().out
    job_id = _job_id(out)
    assert f"Follow it: jupyter mlws jobs logs -f {job_id}" in out
    assert main(["-w", live_server.url, "jobs", "logs", "-f", job_id]) == 0
    out, err = capsys.readouterr()
    assert out == "greeting None\nstep 0\nstep 1\nstep 2\n" and "to stderr" in err
    assert f"Job {job_id} completed, exit code 0" in err
    assert main(["-w", live_server.url, "jobs", "list"]) == 0
    row = next(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(job_id))
    assert row[1:5] == ["train.py", "command", "cpu", "completed"]
    ws.close()
