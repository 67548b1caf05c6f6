"""`%%mlrun --target`: a notebook cell run as a job on a cluster's node (issue 15, item 3).

A real kernel (jupyter_client) whose workspace is a real server's URL; the cell runs in a fresh
process on a node of the server's LocalCluster, its output streams back into the cell while it
runs, and the variables it assigns come back into the kernel.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..lab_server import LabServer
from ..notebook.conftest import Kernel
from .conftest import CLUSTER

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def kernel(server: LabServer, ws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    started = Kernel(
        tmp_path_factory.mktemp("cells"), extra_env={"MLWS_WORKSPACE": server.url, "MLWS_TOKEN": server.token}
    )
    try:
        started.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws\nimport os")
        yield started
    finally:
        started.close()


def test_a_cell_runs_on_a_node_with_its_variables_and_streams_back(kernel: Kernel, ws: Any) -> None:
    kernel.ok("data = [1, 2, 3]\nfactor = 2\nkernel_pid = os.getpid()")
    arrivals: list[tuple[float, str]] = []

    def seen(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            arrivals.append((time.monotonic(), msg["content"]["text"]))

    started = time.monotonic()
    reply = kernel.execute(
        f"%%mlrun --target {CLUSTER} -e cells -n on-a-node -p lr=0.1\n"
        "import time\n"
        "print('first line', flush=True)\n"
        "time.sleep(2)\n"
        "node_pid = os.getpid()\n"
        "total = sum(data) * factor\n"
        "mlws.log_metric('total', total)\n"
        "print('last line')\n"
        "total + 1\n",
        on_message=seen,
        timeout=120,
    )
    assert reply.ename == "", reply.error
    ended = time.monotonic()
    assert "first line" in reply.stdout and "last line" in reply.stdout
    first = next(at for at, text in arrivals if "first line" in text)
    assert ended - first >= 1.5, "the first line reached the cell while the node still ran it"
    assert reply.result is not None and reply.result["text/plain"] == "13"
    back = kernel.ok("print(total, node_pid != kernel_pid, data)")
    assert back.stdout.strip() == "12 True [1, 2, 3]"
    runs = ws.runs(experiment="cells")
    row = runs[runs.name == "on-a-node"].iloc[0]
    assert row.status == "completed" and row["metrics.total"] == 12 and row["params.lr"] == "0.1"
    assert started < ended


def test_an_unpicklable_variable_is_named_and_nothing_is_submitted(kernel: Kernel, ws: Any) -> None:
    before = len(ws.jobs.list())
    kernel.ok("import threading\nlock = threading.Lock()")
    reply = kernel.execute(f"%%mlrun --target {CLUSTER} -e cells\nwith lock:\n    x = 1\n")
    # IPython shows a UsageError as a message on stderr
    assert "UsageError" in reply.stderr and "'lock'" in reply.stderr
    assert "cannot be sent to a node" in reply.stderr
    assert len(ws.jobs.list()) == before


def test_a_failing_cell_raises_with_the_nodes_reason(kernel: Kernel) -> None:
    reply = kernel.execute(
        f"%%mlrun --target {CLUSTER} -e cells\nraise ValueError('bad rows')\n", timeout=120
    )
    assert reply.ename == "CellJobFailed"
    assert "ValueError: bad rows" in reply.error
    assert "ValueError: bad rows" in reply.stderr, "the node's traceback was streamed into the cell"


def test_an_unknown_target_is_a_usage_error(kernel: Kernel) -> None:
    reply = kernel.execute("%%mlrun --target nowhere\nx = 1\n")
    assert "UsageError" in reply.stderr and "Unknown target 'nowhere'" in reply.stderr
