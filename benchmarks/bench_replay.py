"""Replay overhead benchmark: `run.replay()` against a plain re-execution of the same cells.

What it measures: how much a replay costs over running the same cells again in a fresh kernel,
which is the least any replay must pay. Both sides start a new `python3` kernel with nbclient and
execute the same cells in the same folder layout; the replay adds what makes it a replay: reading
the run's history and snapshot, restoring the snapshot into a temporary folder, loading the IPython
extension in the kernel, comparing every cell's outputs and the metrics, and recording the child
run of kind ``replay`` (tags, report, log). Target (the issue): overhead ≤ 10 %.

Run: `.venv/bin/python benchmarks/bench_replay.py [--cells 20] [--work-ms 100 500] [--repeats 3]
[--no-write]`. It is a script, not a test: pytest does not collect it.

The run to replay: a notebook of `--cells` code cells, each doing about `--work-ms` ms of numpy work
(a seeded matrix product loop, printing a short summary), and a last `%%mlrun` cell logging a
metric, run top to bottom as a JupyterLab user runs it (the replay corpus's harness in
tests/repro/test_replay.py: a kernel started as jupyter_server starts one, cells sent with their
ids, the notebook saved before each cell), so the replay reads the kernel's recorded history with
its magics. Plain re-execution: nbclient executes the same cells (the `%%mlrun` cell included, so
both do the same work) in a fresh kernel with IPC sockets, as the replay's, in a fresh copy of the
project folder. Both are timed end to end,
kernel start and shutdown included; median of `--repeats` (default 3), plain and replay
alternated so a load change on this shared machine hits both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"


def cell_sources(cells: int, work_ms: int) -> list[str]:
    """Cells of about `work_ms` ms each (a matrix product loop sized once on this machine)."""
    import numpy as np

    rng = np.random.default_rng(0)
    m = rng.random((200, 200))
    started, loops = time.perf_counter(), 0
    while time.perf_counter() - started < 0.2:
        m @ m
        loops += 1
    per_loop = 0.2 / loops
    count = max(1, int(work_ms / 1000 / per_loop))
    sources = [
        "%load_ext jupyter_mlws\nimport numpy as np\n"
        "rng = np.random.default_rng(0)\nm = rng.random((200, 200))"
    ]
    for i in range(cells):
        sources.append(
            f"acc = np.zeros((200, 200))\nfor _ in range({count}):\n    acc += m @ m\n"
            f"print('cell {i}', float(acc.mean()).__round__(6))"
        )
    sources.append(
        "%%mlrun -e replay-bench -n timed\nimport jupyter_mlws as mlws\n"
        "mlws.log_metric('done', float(acc.mean()))"
    )
    return sources


def execute(sources: list[str], folder: Path, env: dict[str, str]) -> float:
    """Seconds for nbclient to run `sources` in a fresh python3 kernel started in `folder` (IPC
    sockets at an absolute path, as the replay's kernel has them)."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    sockets = Path(tempfile.mkdtemp(prefix="mlws-bench-ipc-"))
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "kernel"))
    started = time.perf_counter()
    try:
        NotebookClient(
            nb, km=manager, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute(env={**os.environ, **env}, cwd=str(folder))
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return time.perf_counter() - started


def record(sources: list[str], project: Path, workspace: Path) -> str:
    """The run to replay, made as a JupyterLab user makes it (tests/repro/test_replay.py's harness:
    a kernel started as jupyter_server starts one, cells sent with their ids, the notebook saved
    before each cell); returns the `%%mlrun` cell's run id."""
    from tests.repro.corpus import Case
    from tests.repro.test_replay import record as record_case

    os.environ["MLWS_WORKSPACE"] = str(workspace)
    case = Case("bench", [(f"c{number}", source) for number, source in enumerate(sources)], "reproduced")
    return record_case(project, case)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--work-ms", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import jupyter_mlws as mlws

    rows = []
    for work_ms in args.work_ms:
        root = Path(tempfile.mkdtemp(prefix="mlws-bench-replay-"))
        try:
            project = root / "project"
            project.mkdir()
            env = {"MLWS_WORKSPACE": str(project / "ws")}
            sources = cell_sources(args.cells, work_ms)
            run_id = record(sources, project, project / "ws")
            ws = mlws.Workspace(str(project / "ws"))
            run = ws.get_run(run_id)
            plain, replay, verdicts = [], [], []
            for number in range(args.repeats):
                copy = root / f"plain-{number}"
                shutil.copytree(project, copy, ignore=shutil.ignore_patterns("ws", ".mlws*"))
                plain.append(execute(sources, copy, env))
                started = time.perf_counter()
                result = run.replay()
                replay.append(time.perf_counter() - started)
                verdicts.append(result.verdict)
            ws.close()
            p, r = statistics.median(plain), statistics.median(replay)
            rows.append((work_ms, len(sources), p, r, (r - p) / p * 100, sorted(set(verdicts))))
            print(
                f"{work_ms} ms cells: plain {p:.2f} s, replay {r:.2f} s, "
                f"overhead {(r - p) / p * 100:+.1f} %, "
                f"verdicts {sorted(set(verdicts))}",
                flush=True,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)

    load = os.getloadavg()[0]
    lines = [
        f"\n## Replay overhead (`bench_replay.py`), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n",
        f"{os.cpu_count()} CPUs, load average {load:.2f} at the end"
        + (" (a shared machine: other work ran beside it)" if load > 1 else "")
        + f"; median of {args.repeats}, plain re-execution and replay alternated; each side starts its"
        " own kernel (included).\n",
        "| cells | work per cell | plain re-execution | `run.replay()` | overhead | verdicts |",
        "|---|---|---|---|---|---|",
    ]
    for work_ms, cells, p, r, over, verdicts in rows:
        lines.append(
            f"| {cells} | ~{work_ms} ms | {p:.2f} s | {r:.2f} s | {over:+.1f} % | {', '.join(verdicts)} |"
        )
    met = all(row[4] <= 10 for row in rows)
    lines.append(
        f"\nTarget ≤ 10 % overhead: {'met' if met else 'missed'} "
        f"({', '.join(f'{row[4]:+.1f} %' for row in rows)}).\n"
    )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
