"""The execution recorder in a real kernel: every cell a user runs becomes a `CellExecution`.

One kernel for the module; executions are read from this process through the store, as
the server's `/executions` route reads them, after the kernel's background writer
(about once a second) has stored them.
"""

from __future__ import annotations

import os

from .conftest import Kernel, store_of, wait_for


def _executions(kernel: Kernel, marker: str, count: int = 1):
    """The recorded executions whose source contains `marker` (waits until `count` are there)."""

    def found():
        with store_of(kernel.folder) as store:
            rows = store.list_executions(notebook_path=str(kernel.notebook), limit=1000)
        hits = [row for row in rows if marker in row.source]
        return hits if len(hits) >= count else None

    return wait_for(found, timeout=30, what=f"an execution with {marker!r}")


def test_every_cell_is_recorded_with_status_duration_and_run(kernel: Kernel) -> None:
    kernel.ok("value = 1  # rec-ok")
    kernel.execute("1 / 0  # rec-error")
    kernel.ok("import time\ntime.sleep(0.3)  # rec-slow")
    run_id = kernel.ok("%%mlrun -n recorded --no-snapshot\n'inside'  # rec-mlrun\n").run_id
    kernel.ok("outer = mlws.start_run(experiment='rec')\nouter_id = outer.id")
    kernel.ok("x = 2  # rec-in-open-run")
    outer_id = kernel.ok("print(outer_id)").stdout.strip()
    kernel.ok("outer.end()")

    (ok,) = _executions(kernel, "rec-ok")
    assert ok.status == "ok" and ok.error is None and ok.run_id is None
    assert ok.kernel_id == kernel.kernel_id and ok.notebook_path == str(kernel.notebook)
    assert ok.execution_count is not None and ok.start_time > 0 and ok.duration_ms >= 0
    assert ok.source == "value = 1  # rec-ok"

    (error,) = _executions(kernel, "rec-error")
    assert error.status == "error" and error.error == "ZeroDivisionError: division by zero"
    assert error.execution_count == ok.execution_count + 1

    (slow,) = _executions(kernel, "rec-slow")
    assert slow.duration_ms >= 300

    (mlrun,) = _executions(kernel, "rec-mlrun")
    assert mlrun.run_id == run_id and mlrun.status == "ok"
    assert mlrun.source.startswith("%%mlrun -n recorded")

    (inside,) = _executions(kernel, "rec-in-open-run")
    assert inside.run_id == outer_id


def test_an_interrupted_cell_is_recorded_as_interrupted(kernel: Kernel) -> None:
    sent: list[bool] = []

    def interrupt(msg) -> None:
        if msg["msg_type"] == "stream" and "waiting" in msg["content"]["text"] and not sent:
            sent.append(True)
            kernel.manager.interrupt_kernel()

    reply = kernel.execute(
        "import time\nprint('waiting', flush=True)\ntime.sleep(30)  # rec-interrupt",
        on_message=interrupt,
        timeout=25,
    )
    assert reply.ename == "KeyboardInterrupt", reply
    (row,) = _executions(kernel, "rec-interrupt")
    assert row.status == "interrupted" and row.error.startswith("KeyboardInterrupt")


def test_record_off_stops_recording_and_on_resumes(kernel: Kernel) -> None:
    assert "recorder is off" in kernel.ok("%mlws record off").stdout
    kernel.ok("y = 1  # rec-while-off")
    assert "recorder       off" in kernel.ok("%mlws status").stdout
    assert "recorder is on" in kernel.ok("%mlws record on").stdout
    kernel.ok("z = 1  # rec-after-on")
    _executions(kernel, "rec-after-on")
    with store_of(kernel.folder) as store:
        rows = store.list_executions(notebook_path=str(kernel.notebook), limit=1000)
    assert not [row for row in rows if "rec-while-off" in row.source]


def test_the_environment_can_turn_recording_off(tmp_path) -> None:
    other = Kernel(tmp_path, extra_env={"MLWS_RECORD_EXECUTIONS": "0"})
    try:
        other.ok("%load_ext jupyter_mlws")
        run_id = other.ok("%%mlrun --no-snapshot\n'still a run'\n").run_id
        other.ok("x = 1  # rec-env-off")
        status = other.ok("%mlws status").stdout
        assert "recorder       off (0 cell executions" in status
        assert f"last %%mlrun   {run_id} " in status and "(completed)" in status
    finally:
        other.close(graceful=True)  # the kernel exits: what a recorder held would be written now
    with store_of(tmp_path) as store:
        assert store.list_executions(notebook_path=str(other.notebook)) == []
    assert os.environ.get("MLWS_RECORD_EXECUTIONS") is None
