"""`%%mlsweep` (issue 18, item 3): a notebook cell as the trial of a sweep, in a real kernel whose
workspace is a real server's URL; the trials run as jobs on the server's cluster."""

from __future__ import annotations

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
        tmp_path_factory.mktemp("sweeps"),
        extra_env={"MLWS_WORKSPACE": server.url, "MLWS_TOKEN": server.token},
    )
    try:
        started.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        yield started
    finally:
        started.close()


def test_a_cell_is_swept_with_its_values_as_variables_and_the_notebook_variables_it_reads(
    kernel: Kernel, ws: Any
) -> None:
    kernel.ok("offset = 10\nspace = {'depth': [2, 4]}")
    reply = kernel.execute(
        f"%%mlsweep -e cell-sweeps -n depth-lr --maximize score --sampling grid --concurrent 2 "
        f'--target {CLUSTER} --space space --lr "choice(0.1, 0.01)" --wait --out found\n'
        "score = offset + depth - lr\n"
        "mlws.log_metric('score', score)\n",
        timeout=200,
    )
    assert reply.ename == "", reply.error
    assert reply.result is not None and "Sweep" in reply.result["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in reply.result  # the live SweepDetails widget
    back = kernel.ok(
        "print(found is _, found.status, len(found.trials()), found.best_run.params['depth'], "
        "found.best_run.params['lr'], found.best_run.metrics['score'])"
    )
    assert back.stdout.split() == ["True", "completed", "4", "4", "0.01", "13.99"], back.stdout
    table = ws.jobs.get_sweep(kernel.ok("print(found.run_id)").stdout.strip()).trials()
    assert sorted(zip(table["params.depth"], table["params.lr"], strict=True)) == [
        (2, 0.01),
        (2, 0.1),
        (4, 0.01),
        (4, 0.1),
    ]
    assert set(table["status"]) == {"completed"}


def test_mlsweep_documents_itself_and_bad_lines_start_nothing(kernel: Kernel, ws: Any) -> None:
    doc = kernel.execute("%%mlsweep?\n")
    text = doc.stdout + str(doc.payload)
    assert "--maximize" in text and "--early-stop" in text, text[:2000]
    before = len(ws.jobs.list())
    uniform = '--lr "uniform(0, 1)"'
    cases = [
        (f"%%mlsweep --target {CLUSTER} {uniform}\nx = lr\n", "exactly one of --maximize"),
        (
            f'%%mlsweep --maximize m --target {CLUSTER} --lr "gaussian(0, 1)"\nx = lr\n',
            "unknown distribution",
        ),
        (
            f'%%mlsweep --maximize m --target {CLUSTER} --lr "uniform(1, 0)"\nx = lr\n',
            "low must be below high",
        ),
        (f'%%mlsweep --maximize m --target {CLUSTER} --lr "choice()"\nx = lr\n', "at least one value"),
        (f"%%mlsweep --maximize m --target {CLUSTER} --sampling grid {uniform}\nx = lr\n", "continuous"),
        (
            f"%%mlsweep --maximize m --target {CLUSTER} --early-stop bandit {uniform}\nx = lr\n",
            "--early-stop",
        ),
        (f"%%mlsweep --maximize m --target nowhere {uniform}\nx = lr\n", "nowhere"),
        (f"%%mlsweep --maximize m --target {CLUSTER}\nx = 1\n", "give the search space"),
    ]
    for cell, words in cases:
        reply = kernel.execute(cell)
        assert "UsageError" in reply.stderr and words in reply.stderr, (cell, reply.stderr[-800:])
    assert len(ws.jobs.list()) == before
