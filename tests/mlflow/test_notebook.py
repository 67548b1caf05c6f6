"""MLflow code in a notebook: a kernel the server starts logs into the workspace unchanged, and
inside a `%%mlrun` cell MLflow's fluent calls attach to the cell's run (one cell, one run).

The kernel is started through the server's REST API (`POST /api/kernels`), as JupyterLab starts
one, and driven over its ZMQ channels with jupyter_client, as a frontend does.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient

from ..lab_server import start_lab

#: Put in a server's config folder: opening its stores takes 3 s, so the server starts kernels
#: while its extension still starts (as a slow disk or a PostgreSQL store far away makes it).
_SLOW_STORE_OPEN = """
import time
from jupyter_mlws.server.services import WorkspaceServices

_open = WorkspaceServices._open_store


def _slow_open(self):
    time.sleep(3)
    return _open(self)


WorkspaceServices._open_store = _slow_open
"""


class ServerKernel:
    def __init__(self, server: Any) -> None:
        self.server = server
        request = urllib.request.Request(
            f"{server.url}/api/kernels",
            data=b"{}",
            method="POST",
            headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            self.kernel_id = json.loads(answer.read())["id"]
        connection = server.root_dir.parent / "state" / "runtime" / f"kernel-{self.kernel_id}.json"
        self.client = BlockingKernelClient(connection_file=str(connection))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def env(self, *names: str) -> dict[str, str]:
        """The kernel's values of these environment variables (the absent ones left out)."""
        printed = self.run(
            f"import os, json; print(json.dumps({{n: os.environ[n] for n in {names!r} if n in os.environ}}))"
        )
        return json.loads(printed)  # type: ignore[no-any-return]

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute `code`; its stdout, or the test fails with the cell's error."""
        msg_id = self.client.execute(code)
        out, error = [], ""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                pytest.fail(f"no answer from the kernel within {timeout} s")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        assert not error, error
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
        request = urllib.request.Request(
            f"{self.server.url}/api/kernels/{self.kernel_id}",
            method="DELETE",
            headers={"Authorization": f"token {self.server.token}"},
        )
        urllib.request.urlopen(request, timeout=60).read()


@pytest.fixture
def kernel(server: Any) -> Any:
    started = ServerKernel(server)
    try:
        yield started
    finally:
        started.close()


def test_mlflow_code_in_a_server_kernel_logs_into_the_workspace(kernel: ServerKernel, ws: Any) -> None:
    name = f"nb-{uuid.uuid4().hex[:8]}"
    printed = kernel.run(
        "import os, mlflow\n"
        f"mlflow.set_experiment({name!r})\n"
        "with mlflow.start_run(run_name='plain') as run:\n"
        "    mlflow.log_metric('acc', 0.75)\n"
        "print('FOUND', os.environ['MLFLOW_TRACKING_URI'], run.info.run_id)\n"
    )
    # (MLflow prints "View run ... at: ..." lines of its own)
    uri, run_id = next(line for line in printed.splitlines() if line.startswith("FOUND")).split()[1:]
    assert uri.endswith("/user/ada/mlws/mlflow")  # the server's own URL, base prefix included
    run = ws.get_run(run_id)
    assert run.metrics == {"acc": 0.75} and run.status == "completed"


def test_fluent_mlflow_calls_in_an_mlrun_cell_attach_to_the_cells_run(kernel: ServerKernel, ws: Any) -> None:
    name = f"cell-{uuid.uuid4().hex[:8]}"
    printed = kernel.run(
        f"%%mlrun -e {name} -n the-cell\n"
        "import mlflow\n"
        "mlflow.log_param('alpha', 0.5)  # fluent calls with no start_run: the cell's run\n"
        "mlflow.log_metric('score', 0.8)\n"
        "with mlflow.start_run(nested=True) as inner:  # asked for: a child of the cell's run\n"
        "    mlflow.log_metric('inner', 1.0)\n"
        "mlflow.log_metric('after', 2.0)  # back in the cell's run\n"
        "outer = mlflow.active_run()\n"
        "print('IDS', outer.info.run_id, inner.info.run_id)\n"
    )
    outer_id, inner_id = next(line for line in printed.splitlines() if line.startswith("IDS")).split()[1:]
    cell = kernel.run("import jupyter_mlws as mlws\nprint(mlws.last_run().id)").strip()
    assert outer_id == cell  # mlflow.start_run() in the cell is the cell's run
    run = ws.get_run(cell)
    deadline = time.monotonic() + 30  # the cell's run is ended by its finalizer, just after the cell
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        run = ws.get_run(cell)
    assert run.name == "the-cell" and run.status == "completed"
    logged = {k: v for k, v in run.metrics.items() if not k.startswith("system/")}
    assert run.params == {"alpha": "0.5"} and logged == {"score": 0.8, "after": 2.0}
    child = ws.get_run(inner_id)
    assert child.info.parent_run_id == cell and child.metrics == {"inner": 1.0}
    assert child.status == "completed"
    # the next cell is not inside the cell's run any more
    assert kernel.run("print(mlflow.active_run())").strip() == "None"
    # the with-block form: `with mlflow.start_run()` in a cell is the cell's run too
    printed = kernel.run(
        f"%%mlrun -e {name} -n second\n"
        "with mlflow.start_run() as block:\n"
        "    mlflow.log_metric('m', 1.0)\n"
        "print('ID', block.info.run_id)\n"
    )
    block_id = next(line for line in printed.splitlines() if line.startswith("ID ")).split()[1]
    assert block_id == kernel.run("print(mlws.last_run().id)").strip()
    assert ws.get_run(block_id).name == "second"


def test_a_kernel_started_while_the_extension_starts_still_gets_the_workspace(tmp_path: Path) -> None:
    """Jupyter starts kernels before the extension has opened its stores: such a kernel got no
    $MLWS_WORKSPACE, no $PYTHONSTARTUP (no %%mlrun) and no MLflow variables (seen: a kernel started
    1 s before the export). The export now comes first."""
    config = tmp_path / "state" / "config"
    config.mkdir(parents=True)
    (config / "jupyter_server_config.py").write_text(_SLOW_STORE_OPEN)
    server = start_lab(tmp_path / "root", tmp_path / "state", app="server")
    try:
        kernel = ServerKernel(server)
        try:
            env = kernel.env(
                "MLWS_WORKSPACE", "PYTHONSTARTUP", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"
            )
        finally:
            kernel.close()
        log = server.log_path.read_text()
        opened = log.find("ML workspace at")
        assert opened < 0 or log.index("Kernel started") < opened, "the kernel came late: proves nothing"
        assert env["MLWS_WORKSPACE"] == str(tmp_path / "root" / ".mlws")
        assert env["PYTHONSTARTUP"].endswith("kernel_startup.py")
        assert env["MLFLOW_TRACKING_URI"] == f"{server.url}/mlws/mlflow"
        assert env["MLFLOW_TRACKING_TOKEN"] == server.token
    finally:
        server.stop()
