"""Jobs on a training cluster through a real Jupyter server (issue 15, items 3 and 5).

Everything is real: the server is its own process, the cluster is a Dask LocalCluster of worker
processes it adapts, every job runs in a process of its own on a node, and the client is a
workspace URL (`mlws.Workspace(url, token=...)`), as a user on another machine would have.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound

from .conftest import CLUSTER, until

pytestmark = pytest.mark.timeout(240)


def _script(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(textwrap.dedent(body))


def test_a_command_job_is_a_run_with_its_code_inputs_params_outputs_and_live_output(
    ws: Any, project: Path
) -> None:
    _script(
        project / "src",
        "train.py",
        """
        import argparse, os, time
        import jupyter_mlws as mlws
        parser = argparse.ArgumentParser()
        parser.add_argument("--reg", type=float)
        parser.add_argument("--data")
        args = parser.parse_args()
        print("rows", len(open(args.data).read().splitlines()), flush=True)
        print("printed at", time.time(), flush=True)
        time.sleep(2)
        mlws.log_metric("loss", 1 - args.reg)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.txt", "w").write("weights")
        print("env", os.environ["MLWS_INPUT_DATA"] == args.data, os.environ["GREETING"])
        """,
    )
    (project / "data.csv").write_text("a,b\n1,2\n3,4\n")
    job = ws.jobs.submit(
        command=["python", "train.py", "--reg", "0.25", "--data", "${{inputs.data}}"],
        code="src",
        target=CLUSTER,
        experiment="diabetes",
        inputs={"data": "data.csv"},
        environment_variables={"GREETING": "hello"},
    )
    assert job.status in ("queued", "running")
    # the output is readable while the job still runs, well under a second behind
    line = until(
        lambda: next((c for c in job.log_chunks() if "printed at" in c.text), None),
        60,
        "live output",
        explain=lambda: f"{job.status}: {job.reason}: {job.logs()}",
    )
    printed = float(line.text.split()[-1])
    seen = time.time()
    assert job.status == "running", "the line was read while the job ran"
    assert seen - printed < 1.5, f"output {seen - printed:.2f} s behind"
    job.wait(60)
    assert job.status == "completed", job.reason
    run = job.run
    assert run.status == "completed"
    assert run.params["args.reg"] == "0.25"
    assert run.metrics["loss"] == pytest.approx(0.75)
    assert run.tags["mlws.job.id"] == job.id
    paths = set(run.artifacts().path)
    assert {"outputs/model.txt", "logs/std_log.txt", "snapshot/manifest.json"} <= paths
    assert set(run.snapshot().path) == {"train.py"}
    logs = job.logs()
    assert "rows 3" in logs and "env True hello" in logs
    assert "rows 3" in run.logs(), "the run keeps the output as its logs artifact"
    listed = ws.jobs.list()
    row = listed[listed.job_id == job.id].iloc[0]
    assert row.state == "completed" and row.exit_code == 0 and row.node.startswith("tcp://127.0.0.1:")


def test_a_failing_command_fails_with_its_exit_code_and_stderr(ws: Any, project: Path) -> None:
    job = ws.jobs.submit(
        command=[sys.executable, "-c", "import sys; print('bad input', file=sys.stderr); sys.exit(3)"],
        target=CLUSTER,
        experiment="diabetes",
    )
    job.wait(60)
    assert job.status == "failed" and job.reason == "exit code 3"
    assert job.record.exit_code == 3
    assert any(c.stream == "stderr" and "bad input" in c.text for c in job.log_chunks())
    assert job.run.status == "failed"


def test_six_jobs_on_two_nodes_wait_in_order_and_a_higher_priority_overtakes(ws: Any, project: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(2.5)"]
    low = [
        ws.jobs.submit(command=sleeper, target=CLUSTER, experiment="queue", name=f"low-{i}") for i in range(6)
    ]
    urgent = ws.jobs.submit(command=sleeper, target=CLUSTER, experiment="queue", name="urgent", priority=10)
    row = ws.compute.clusters().set_index("name").loc[CLUSTER]
    assert row.queued_jobs + row.running_jobs == 7 and row.queued_jobs >= 4, row
    table = ws.jobs.list(target=CLUSTER)
    queued = table[table.state == "queued"].sort_values("position")
    assert list(queued.position) == list(range(1, len(queued) + 1))
    if len(queued) > 1:
        assert queued.iloc[0]["name"] == "urgent", "the higher priority is first in the queue"
    for job in [*low, urgent]:
        job.wait(120)
        assert job.status == "completed", job.reason
    started = {job.record.name: job.record.started_time for job in [*low, urgent]}
    order = sorted(started, key=started.get)
    # Two jobs handed to Dask in the same look (two nodes freed together) start side by side, in
    # either order by a few ms; a job that jumped the queue would start a whole job (2.5 s) early.
    together_ms = 1000
    for i in range(5):
        assert started[f"low-{i}"] <= started[f"low-{i + 1}"] + together_ms, (
            f"FIFO within a priority: {order}"
        )
    # two jobs fill the cluster; none had ended when the urgent one came, so it goes next
    assert min(job.record.ended_time for job in low) > urgent.record.submitted_time
    assert all(started["urgent"] <= started[f"low-{i}"] + together_ms for i in range(2, 6)), (
        f"the urgent job overtook the queued ones: {order}"
    )
    nodes = {job.record.node for job in [*low, urgent]}
    assert len(nodes) <= ws.compute.get_cluster(CLUSTER).max_nodes, f"more nodes than max_nodes: {nodes}"
    # never more than two jobs ran at once (one CPU per node, two nodes)
    spans = [(job.record.started_time, job.record.ended_time) for job in [*low, urgent]]
    for at, _ in spans:
        assert sum(1 for s, e in spans if s <= at < e) <= 2


def test_cancel_ends_the_whole_process_tree_within_a_second(ws: Any, project: Path) -> None:
    code = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('child', child.pid, flush=True); time.sleep(60)"
    )
    job = ws.jobs.submit(command=[sys.executable, "-c", code], target=CLUSTER, experiment="cancel")
    line = until(
        lambda: next((c for c in job.log_chunks() if c.text.startswith("child")), None), 60, "the child"
    )
    grandchild = int(line.text.split()[1])
    parent = job.refresh().pid
    assert psutil.pid_exists(parent) and psutil.pid_exists(grandchild)
    asked = time.monotonic()
    job.cancel(wait=0)

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    until(lambda: gone(parent) and gone(grandchild), 5, "the job's processes gone", every=0.01)
    took = time.monotonic() - asked
    assert took <= 1.0, f"the processes were gone {took:.2f} s after the cancel"
    until(lambda: job.status == "canceled", 10, "the job recorded canceled")
    assert job.run.status == "canceled"


def test_a_queued_job_canceled_leaves_the_queue(ws: Any, project: Path) -> None:
    blockers = [
        ws.jobs.submit(
            command=[sys.executable, "-c", "import time; time.sleep(3)"], target=CLUSTER, experiment="q"
        )
        for _ in range(2)
    ]
    waiting = ws.jobs.submit(command=[sys.executable, "-c", "print('never')"], target=CLUSTER, experiment="q")
    waiting.cancel()
    assert waiting.status == "canceled" and waiting.reason == "canceled before it started"
    assert waiting.run.status == "canceled"
    for job in blockers:
        job.wait(60)
    time.sleep(0.5)
    assert waiting.status == "canceled" and "never" not in waiting.logs()


@pytest.mark.catalogue("K8")
def test_a_worker_killed_mid_job_is_node_lost_and_the_job_is_retried(ws: Any, project: Path) -> None:
    parent = ws.start_run(experiment="retries", name="a sweep")  # each attempt is a child of it
    job = ws.jobs.submit(
        command=[
            sys.executable,
            "-c",
            "import os, time; print('attempt', os.environ['MLWS_RUN_ID'], flush=True); time.sleep(4)",
        ],
        target=CLUSTER,
        experiment="retries",
        max_retries=1,
        parent_run=parent,
    )
    until(lambda: job.status == "running" and job.record.pid, 60, "the job running")
    first_run = job.record.run_id
    worker = psutil.Process(job.record.pid).parent()
    assert worker is not None and "python" in worker.name()
    killed_at = time.monotonic()
    os.kill(worker.pid, signal.SIGKILL)
    until(lambda: ws.get_run(first_run).status == "killed", 30, "the first attempt killed")
    assert time.monotonic() - killed_at <= 30
    assert "node lost" in ws.get_run(first_run).info.status_reason
    job.wait(120)
    assert job.status == "completed", job.reason
    assert job.record.attempt == 2 and job.record.run_id != first_run
    second = job.run
    assert second.tags["mlws.job.attempt"] == "2" and second.status == "completed"
    assert ws.get_run(first_run).info.parent_run_id == second.info.parent_run_id == parent.run_id
    parent.end()


def test_a_job_past_its_timeout_is_killed_and_says_why(ws: Any, project: Path) -> None:
    job = ws.jobs.submit(
        command=[sys.executable, "-c", "import time; time.sleep(30)"],
        target=CLUSTER,
        experiment="t",
        timeout="1.5s",
    )
    job.wait(60)
    assert job.status == "canceled"
    assert job.reason.startswith("timeout after 1.5 s")
    assert job.run.status == "canceled"


def test_a_function_job_ships_the_function_and_returns_its_value(ws: Any, project: Path) -> None:
    import jupyter_mlws as mlws

    def train(xs: list[float], scale: float = 1.0) -> dict[str, float]:
        total = sum(xs) * scale
        mlws.log_metric("total", total)
        return {"total": total, "pid": os.getpid()}

    job = ws.jobs.submit(train, [1.0, 2.0, 3.0], scale=2.0, target=CLUSTER, experiment="functions")
    value = job.result(timeout=60)
    assert value["total"] == 12.0 and value["pid"] != os.getpid()
    assert job.run.metrics["total"] == 12.0


def test_a_notebook_job_gets_its_parameters_as_a_typed_cell(ws: Any, project: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 0.5\nname = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import jupyter_mlws as mlws\n"
            "mlws.log_metric('alpha', alpha)\n"
            "print('hello', name, type(alpha).__name__)"
        ),
    ]
    nbformat.write(nb, project / "src" / "train.ipynb")
    job = ws.jobs.submit(
        notebook="train.ipynb",
        code="src",
        parameters={"alpha": 0.1, "name": "x'); import os; ('"},
        target=CLUSTER,
        experiment="notebooks",
    )
    job.wait(120)
    assert job.status == "completed", job.reason + job.logs()
    run = job.run
    assert run.metrics["alpha"] == pytest.approx(0.1)
    assert run.params["alpha"] == "0.1"
    assert "hello x'); import os; (' float" in job.logs(), "the text arrived as a string, never as code"
    path = run.download_artifacts("outputs/train.ipynb", project / "out")
    executed = nbformat.read(str(path), as_version=4)
    injected = executed.cells[1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert "alpha = 0.1" in injected.source


def test_a_notebook_job_with_a_failing_cell_names_it(ws: Any, project: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('no data')")]
    nbformat.write(nb, project / "src" / "broken.ipynb")
    job = ws.jobs.submit(notebook="src/broken.ipynb", target=CLUSTER, experiment="notebooks")
    job.wait(120)
    assert job.status == "failed"
    assert "cell 1" in job.reason and "ValueError: no data" in job.reason


def test_bad_input_is_refused_clearly_and_nothing_is_created(ws: Any, project: Path) -> None:
    before = len(ws.runs())
    jobs_before = len(ws.jobs.list())
    (project / "src" / "train.py").write_text("print(1)\n")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"command": ["python", "train.py"], "target": "nope"}, NotFound, "Unknown target 'nope'"),
        (
            {"command": ["python", "train.py"], "resources": {"cpus": 4}},
            InvalidParameter,
            "4 CPUs but a node of 'cpu' has 1",
        ),
        (
            {"command": ["python", "train.py"], "code": "missing/"},
            NotFound,
            "code folder 'missing/' does not exist",
        ),
        (
            {"command": ["no-such-program-xyz"], "code": "src"},
            NotFound,
            "'no-such-program-xyz' does not exist",
        ),
        (
            {"command": ["python", "train.py"], "inputs": {"data": "/etc/passwd"}},
            InvalidParameter,
            "outside the allowed roots",
        ),
        ({"command": ["python", "train.py"], "timeout": "soon"}, InvalidParameter, "timeout 'soon'"),
        ({"notebook": "nope.ipynb"}, InvalidParameter, "does not exist"),
        ({"notebook": "src/train.py", "parameters": {"x y": 1}}, InvalidParameter, "not a Python identifier"),
        (
            {"command": ["python", "train.py"], "code": "src", "parent_run": "0" * 32},
            InvalidParameter,
            "is not a run of this workspace",
        ),
        (
            {"command": ["python", "train.py"], "code": "src", "parent_run": 7},
            InvalidParameter,
            "Run or a run id",
        ),
    ]
    for options, error, words in cases:
        given = {"target": CLUSTER, "experiment": "bad", **options}
        with pytest.raises(error) as caught:
            ws.jobs.submit(**given)
        assert words in str(caught.value), (options, str(caught.value))

    import threading

    lock = threading.Lock()
    with pytest.raises(InvalidParameter, match="cannot be sent to a node"):
        ws.jobs.submit(lambda held: None, lock, target=CLUSTER, experiment="bad")
    assert len(ws.runs()) == before, "no run was left behind"
    assert len(ws.jobs.list()) == jobs_before, "no job was queued"

    # a command given as one string is split, never handed to a shell
    (project / "src" / "marker").write_text("still here")
    job = ws.jobs.submit(command="python train.py; rm marker", code="src", target=CLUSTER, experiment="bad")
    job.wait(60)
    assert job.status == "failed" and "train.py;" in job.logs(), job.logs()


def test_a_node_that_reaches_the_workspace_only_through_its_url(ws: Any, project: Path) -> None:
    """Workers that do not open the SQLite file: the job claims, logs, uploads and ends over REST."""
    ws.compute.create_cluster(
        "url-only",
        min_nodes=0,
        max_nodes=1,
        node={"cpus": 1},
        idle_seconds_before_scaledown=5,
        factory="distributed.LocalCluster",
        factory_kwargs={
            "n_workers": 0,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
            "env": {"MLWS_NODE_USE_URL": "1"},
        },
    )
    try:
        _script(
            project / "src",
            "remote.py",
            """
            import os
            import jupyter_mlws as mlws
            assert "MLWS_STORE_URL" not in os.environ and os.environ["MLWS_WORKSPACE"].startswith("http")
            mlws.log_metric("acc", 0.5)
            os.makedirs("outputs", exist_ok=True)
            open("outputs/r.txt", "w").write("ok")
            print("through", os.environ["MLWS_WORKSPACE"])
            """,
        )
        job = ws.jobs.submit(
            command=["python", "remote.py"], code="src", target="url-only", experiment="remote"
        )
        job.wait(120)
        assert job.status == "completed", (job.reason, job.logs())
        assert job.run.metrics["acc"] == 0.5
        assert "outputs/r.txt" in set(job.run.artifacts().path)
        assert "through http://127.0.0.1:" in job.logs()
    finally:
        ws.compute.delete_cluster("url-only")


def test_a_job_on_an_attached_scheduler_runs_on_its_worker(
    ws: Any, project: Path, outside_scheduler: str
) -> None:
    """Somebody else's Dask cluster (a scheduler and a worker of their own): jobs run there, and the
    cluster is left as it was."""
    ws.compute.attach("hpc", address=outside_scheduler)
    try:
        job = ws.jobs.submit(
            command=[sys.executable, "-c", "import os; print('parent', os.getppid())"],
            target="hpc",
            experiment="hpc",
        )
        job.wait(120)
        assert job.status == "completed", (job.reason, job.logs())
        parent = psutil.Process(int(job.logs().split()[-1]))
        lineage = [" ".join(p.cmdline()) for p in [parent, *parent.parents()]]
        assert any("dask worker" in line or "/dask worker" in line for line in lineage), lineage
    finally:
        ws.compute.detach("hpc")
    from distributed import Client

    with Client(outside_scheduler, timeout="5s") as client:
        assert len(client.scheduler_info()["workers"]) == 1, "the attached cluster keeps running"


def test_run_details_shows_a_jobs_place_in_the_queue_then_its_output_live(ws: Any, project: Path) -> None:
    from jupyter_mlws.widgets import RunDetails

    sleeper = [sys.executable, "-c", "import time; time.sleep(4)"]
    blockers = [ws.jobs.submit(command=sleeper, target=CLUSTER, experiment="widget") for _ in range(2)]
    code = "import time; print('step one', flush=True); time.sleep(2); print('step two')"
    for blocker in blockers:
        until(lambda b=blocker: b.status == "running", 60, "the cluster full")
    job = ws.jobs.submit(command=[sys.executable, "-c", code], target=CLUSTER, experiment="widget")
    widget = RunDetails(job.run)
    try:
        assert widget.status == "queued" and widget.status_reason == f"queued: #1 in {CLUSTER}'s queue"
        until(lambda: "step one" in widget.logs and widget.status == "running", 60, "the output live")
        until(lambda: widget.status == "completed" and "step two" in widget.logs, 60, "the end, all output")
    finally:
        widget.close()
        for blocker in blockers:
            blocker.wait(60)


def test_a_data_asset_input_is_pinned_recorded_and_materialized_on_the_node(ws: Any, project: Path) -> None:
    folder = project / "batch"
    folder.mkdir()
    for i in range(3):
        (folder / f"part-{i}.csv").write_text(f"x\n{i}\n")
    version = ws.data.register("job-input", path=folder)
    job = ws.jobs.submit(
        command=[
            sys.executable,
            "-c",
            "import os, sys; print(sorted(os.listdir(sys.argv[1])))",
            "${{inputs.rows}}",
        ],
        target=CLUSTER,
        experiment="data",
        inputs={"rows": "data:job-input"},
    )
    (folder / "part-3.csv").write_text("x\n3\n")
    assert ws.data.register("job-input", path=folder).version == version.version + 1
    job.wait(60)
    assert job.status == "completed", (job.reason, job.logs())
    assert "['part-0.csv', 'part-1.csv', 'part-2.csv']" in job.logs(), "the version pinned at submit"
    assert job.run.tags["mlws.data.rows"] == version.ref
    readers = ws.data.runs(version.ref)
    assert list(readers.run_id) == [job.run.id], "the version knows the runs that read it"
    assert ws.data.runs(f"job-input:{version.version + 1}").empty, "no run read the newer version"
    with pytest.raises(NotFound, match="no-such-data"):
        ws.jobs.submit(command=["python", "-c", "pass"], target=CLUSTER, inputs={"rows": "data:no-such-data"})
