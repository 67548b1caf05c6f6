"""`%%mlrun` in a real kernel: each ending (RELIABILITY K3), the options, output, card, `%mlws`.

One kernel serves the whole module (cells do not share state they rely on). What the
kernel wrote is read back twice: inside the kernel right after the cell (the Python API
must show the final state at once: `Workspace.settle`) and from this process through
the same workspace folder, as the server would.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import jupyter_mlws as mlws

from .conftest import Kernel, wait_for


@pytest.fixture(scope="module")
def ws(kernel: Kernel):
    workspace = mlws.Workspace(kernel.folder / "ws")
    yield workspace
    workspace.close()


def ended(ws, run_id: str):
    """The run once its kernel has ended it (the kernel finishes runs in the background)."""
    run = ws.get_run(run_id)
    wait_for(lambda: run.info.status.is_terminal, timeout=30, what=f"run {run_id} to end")
    return run


def _in_kernel(kernel: Kernel, expression: str) -> str:
    """Evaluate `expression` in the kernel and return what it printed."""
    return kernel.ok(f"print({expression})").stdout.strip()


@pytest.mark.catalogue("K3")
def test_a_cell_becomes_a_completed_run(kernel: Kernel, ws) -> None:
    reply = kernel.ok(
        "%%mlrun -e churn -n baseline -t team=a -t note=x=y\n"
        "import sys\n"
        "print('to stdout')\n"
        "print('to stderr', file=sys.stderr)\n"
        "mlws.log_metric('loss', 0.5)\n"
        "mlws.log_metric('loss', 0.25)\n"
        "inside = mlws.active_run().id\n"
        "21 * 2\n"
    )
    run_id = reply.run_id
    # the user sees the cell's output and its last value as Out[n]
    assert "to stdout" in reply.stdout and "to stderr" in reply.stderr
    assert reply.result == {"text/plain": "42"}
    # read back in the kernel at once: the run has ended, everything is there
    assert _in_kernel(kernel, "inside") == run_id
    assert _in_kernel(kernel, f"mlws.get_run({run_id!r}).status") == "completed"
    assert _in_kernel(kernel, f"mlws.get_run({run_id!r}).metrics") == "{'loss': 0.25}"

    run = ws.get_run(run_id)
    info = run.info
    assert info.status.value == "completed" and info.name == "baseline"
    assert ws.store.get_experiment(info.experiment_id).name == "churn"
    assert info.source_kind == "notebook" and info.notebook_path == str(kernel.notebook)
    assert info.end_time is not None and 0 <= info.end_time - info.start_time < 10_000
    assert info.kernel_id == kernel.kernel_id
    tags = run.tags
    assert tags["team"] == "a" and tags["note"] == "x=y"
    assert tags["mlws.notebook"] == str(kernel.notebook)
    count = int(tags["mlws.execution_count"])  # the cell's number: its source is In[count]
    first_line = f"get_ipython().history_manager.input_hist_raw[{count}].splitlines()[0]"
    assert _in_kernel(kernel, first_line) == "%%mlrun -e churn -n baseline -t team=a -t note=x=y"
    assert list(run.metric_history("loss")["value"]) == [0.5, 0.25]
    log = run.logs()
    assert "to stdout\n" in log and "to stderr\n" in log
    source = run.download_artifacts("code/cell.py", kernel.folder / "dl").read_text()
    assert source.startswith("# %%mlrun -e churn -n baseline") and "print('to stdout')" in source
    # the card was shown running, then updated in place to its final state
    first, last = reply.displays[0], reply.displays[-1]
    assert 'data-status="running"' in first["data"]["text/html"]
    assert first["transient"]["display_id"] == last["transient"]["display_id"]
    assert 'data-status="completed"' in last["data"]["text/html"]
    assert f'<a class="mlws-run-link" data-mlws-run="{run_id}" href="#">' in last["data"]["text/html"]
    assert "[completed]" in last["data"]["text/plain"]


@pytest.mark.catalogue("K3")
def test_an_exception_fails_the_run_and_still_fails_the_cell(kernel: Kernel, ws) -> None:
    reply = kernel.execute(
        "%%mlrun -n broken\n"
        "def inner():\n"
        "    raise ValueError('bad input <b>')\n"
        "print('before the error')\n"
        "inner()\n"
    )
    assert reply.status == "error" and reply.ename == "ValueError"
    assert "bad input <b>" in reply.error and "----> 5 inner()" in reply.error
    run = ended(ws, reply.run_id)
    assert run.info.status.value == "failed"
    assert run.info.status_reason == "ValueError: bad input <b>"
    log = run.logs()
    assert log.startswith("before the error\n")
    assert "Traceback (most recent call last)" in log and "raise ValueError('bad input <b>')" in log
    assert "jupyter_mlws" not in log  # the traceback starts at the user's cell
    card = reply.final_card()
    assert 'data-status="failed"' in card and "bad input &lt;b&gt;" in card and "<b>" not in card


@pytest.mark.catalogue("K3")
def test_sys_exit_in_a_cell_fails_the_run(kernel: Kernel, ws) -> None:
    reply = kernel.execute("%%mlrun -n exits\nimport sys\nsys.exit(1)\n")
    assert reply.ename == "SystemExit"
    info = ended(ws, reply.run_id).info
    assert info.status.value == "failed" and info.status_reason == "SystemExit: 1"
    assert _in_kernel(kernel, "'still alive'") == "still alive"


@pytest.mark.catalogue("K3")
def test_an_interrupt_kills_the_run(kernel: Kernel, ws) -> None:
    done = threading.Event()

    def interrupt_until_done() -> None:
        # As a user would: interrupt, and again if the kernel did not stop (a SIGINT that lands
        # while ipykernel itself is busy, on a loaded machine, can be absorbed there).
        while not done.is_set():
            kernel.manager.interrupt_kernel()
            done.wait(3.0)

    def interrupt_once_sleeping(msg) -> None:
        if msg["msg_type"] == "stream" and "sleeping" in msg["content"]["text"] and not started:
            started.append(threading.Thread(target=interrupt_until_done, daemon=True))
            started[0].start()

    started: list[threading.Thread] = []
    try:
        reply = kernel.execute(
            "%%mlrun -n sleeper\nimport time\nprint('sleeping', flush=True)\ntime.sleep(60)\n",
            on_message=interrupt_once_sleeping,
            timeout=30,
        )
    finally:
        done.set()
    assert reply.ename == "KeyboardInterrupt"
    run = ended(ws, reply.run_id)
    assert run.info.status.value == "killed"
    assert "interrupted" in run.info.status_reason
    assert "sleeping" in run.logs() and "KeyboardInterrupt" in run.logs()
    assert 'data-status="killed"' in reply.final_card()


def test_help_documents_the_options(kernel: Kernel) -> None:
    reply = kernel.ok("%%mlrun?")
    text = reply.payload[0]["data"]["text/plain"]
    for option in ("--experiment", "--name", "--tag", "--parent", "--no-snapshot", "--log-vars", "KEY=VALUE"):
        assert option in text


def test_a_malformed_tag_fails_before_anything_runs(kernel: Kernel, ws) -> None:
    before = len(ws.runs())
    reply = kernel.execute("%%mlrun -t nokey\nprint('the body ran')\n")
    assert reply.status == "error"
    assert "expects key=value, got 'nokey'" in reply.stdout + reply.stderr + reply.error
    assert "the body ran" not in reply.stdout
    assert len(ws.runs()) == before


def test_log_vars_logs_numbers_as_metrics_and_short_text_as_params(kernel: Kernel, ws) -> None:
    reply = kernel.ok(
        "%%mlrun -n vars --log-vars acc,steps,flag,label,big,items,missing,cfg.lr\n"
        "class Cfg: lr = 0.01\n"
        "cfg = Cfg()\n"
        "acc, steps, flag, label, big, items = 0.91, 7, True, 'v1', 'x' * 600, [1, 2]\n"
    )
    run = ended(ws, reply.run_id)
    assert run.metrics == {"acc": 0.91, "steps": 7.0, "cfg.lr": 0.01}
    assert run.params == {"flag": "True", "label": "v1"}
    log = run.logs()
    assert "big is a string of 600 characters" in log
    assert "items is a list" in log and "missing is not defined" in log


def test_the_active_run_becomes_the_parent(kernel: Kernel, ws) -> None:
    kernel.ok("outer = mlws.start_run(experiment='outer', name='outer')")
    outer_id = _in_kernel(kernel, "outer.id")
    child = kernel.ok("%%mlrun -n child\ninner_active = mlws.active_run().id\n").run_id
    assert ended(ws, child).info.parent_run_id == outer_id
    # after the cell the outer run is active again
    assert _in_kernel(kernel, "mlws.active_run().id") == outer_id
    assert _in_kernel(kernel, "inner_active") == child
    reply = kernel.ok("%mlws end")
    assert f"run {outer_id} ended completed" in reply.stdout
    assert ws.get_run(outer_id).info.status.value == "completed"
    explicit = kernel.ok("%%mlrun -n explicit --parent {outer.id}\npass\n").run_id
    assert ended(ws, explicit).info.parent_run_id == outer_id
    assert "no run is active" in kernel.ok("%mlws end").stdout
    reply = kernel.execute("%%mlrun --parent nosuchrun\nprint('the body ran')\n")
    assert (
        "UsageError" in reply.stderr + reply.error
        and "'nosuchrun' does not exist" in reply.stderr + reply.error
    )
    assert "the body ran" not in reply.stdout


def test_subprocesses_see_the_run_id_during_the_cell_only(kernel: Kernel) -> None:
    reply = kernel.ok(
        "%%mlrun -n env\n"
        "import subprocess, sys\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'import os; print(os.environ.get(\"MLWS_RUN_ID\"))'], capture_output=True, text=True).stdout\n"
    )
    assert _in_kernel(kernel, "child.strip()") == reply.run_id
    assert _in_kernel(kernel, "__import__('os').environ.get('MLWS_RUN_ID')") == "None"


def test_output_reaches_the_log_while_the_cell_runs(kernel: Kernel, ws) -> None:
    seen: dict[str, str] = {}

    def watch(msg) -> None:
        content = msg["content"]
        if msg["msg_type"] == "display_data" and "run" not in seen:
            seen["run"] = content["transient"]["display_id"].removeprefix("mlws-run-")
        if msg["msg_type"] == "stream" and "tick 2" in content["text"]:
            run = ws.get_run(seen["run"])
            seen["live"] = wait_for(
                lambda: "tick 2" in run.logs() and run.logs(), timeout=8, what="the live log"
            )
            seen["status"] = run.info.status.value

    kernel.ok(
        "%%mlrun -n live\n"
        "import time\n"
        "for i in range(3):\n"
        "    print(f'tick {i}', flush=True)\n"
        "time.sleep(6)\n"
        "print('done')\n",
        on_message=watch,
    )
    assert seen["status"] == "running"
    assert "tick 0\ntick 1\ntick 2\n" in seen["live"] and "done" not in seen["live"]
    assert ended(ws, seen["run"]).logs() == "tick 0\ntick 1\ntick 2\ndone\n"


def test_no_card_shows_nothing_but_still_runs(kernel: Kernel, ws) -> None:
    reply = kernel.ok("%%mlrun -n quiet --no-card\nprint('hi')\n")
    assert reply.displays == [] and reply.stdout == "hi\n"
    run_id = _in_kernel(kernel, "get_ipython().run_line_magic('mlws', 'status') or ''")
    assert "'quiet' (completed)" in run_id


def test_mlws_status_runs_and_open(kernel: Kernel, ws) -> None:
    run_id = kernel.ok("%%mlrun -e listing -n listed\npass\n").run_id
    status = kernel.ok("%mlws status").stdout
    assert f"ML workspace   {kernel.folder / 'ws'}" in status
    assert "active run     none" in status
    assert f"last %%mlrun   {run_id} 'listed' (completed)" in status
    assert "recorder       on" in status
    table = kernel.ok("%mlws runs 2").result["text/plain"]
    assert "listed" in table and "run_id" in table and "status" in table
    assert len(table.strip().splitlines()) >= 3  # a header and two runs
    opened = kernel.ok(f"%mlws open {run_id}").displays[0]["data"]
    assert f'data-mlws-run="{run_id}"' in opened["text/html"] and "completed" in opened["text/plain"]
    assert "mlws-run-link" in kernel.ok("%mlws open last").displays[0]["data"]["text/html"]
    assert "usage: %mlws" in kernel.ok("%mlws runs many").stdout
    assert "usage: %mlws" in kernel.ok("%mlws record maybe").stdout


def test_the_default_experiment_is_the_notebook_name(kernel: Kernel, ws) -> None:
    run_id = kernel.ok("%%mlrun\n'x'\n").run_id
    info = ended(ws, run_id).info
    assert ws.store.get_experiment(info.experiment_id).name == Path(kernel.notebook).stem


def test_last_run_after_a_cell_is_that_cells_run(kernel: Kernel, ws) -> None:
    reply = kernel.ok("%%mlrun -e last -n cell\nmlws.log_metric('x', 1.0)\n")
    assert _in_kernel(kernel, "mlws.last_run().id") == reply.run_id
    assert _in_kernel(kernel, "mlws.last_run().status") == "completed"
