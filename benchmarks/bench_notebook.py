"""Notebook-run benchmark (issue 5): what `%%mlrun` and the execution recorder add to a cell.

Run: `python benchmarks/bench_notebook.py` (MLflow from the `bench` extra for the side-by-side row).

Each kernel is a real ipykernel started with jupyter_client, as JupyterLab starts it; a cell's
round trip is `execute_interactive` (request sent -> reply and idle received), which is what a
user waits for. Cells of the different kinds are interleaved (plain, `%%mlrun`, ...) so that
machine noise hits them alike, and the medians are compared:

- plain cell `pass` versus `%%mlrun` around `pass` (the snapshot on and off): target <= 5 ms added.
  Cells are sent 0.1 s apart, as a person runs them (the run's background work is done by the
  next cell). Back to back (target <= 5 ms added too), twice: as Run All runs a notebook, in
  bursts of `RUN_ALL_ROUNDS` `%%mlrun` and as many plain cells with the kernel idle between
  bursts; and unbroken for all the rounds, longer than the finalizer's backlog limit
  (client/finalizer.py, `BACKLOG_SECONDS`), past which the endings run beside the cells again;
- the same with MLflow: `with mlflow.start_run(): pass` in a cell (SQLite backend, same machine);
- the recorder: plain cells with the recorder on and off, in one kernel. Its cost is also timed
  inside the kernel (`shell.run_cell("pass")` in a loop), where the loopback and ZMQ noise is
  absent: target <= 1 ms per cell;
- the out-of-order check `%%mlrun` makes before its cell (`NotebookSession.out_of_order`,
  repro/order.py), timed inside the kernel around each call `CellRun` makes, in a kernel of its
  own whose saved notebook holds the cells: target <= 1 ms per cell. `ORDER_CELLS` earlier cells
  of five lines (a chain of assignments, a comprehension, a function, a call; a line magic in
  every tenth), all new sources, then a `%%mlrun` cell: the first check analyses them all (and
  reads the saved notebook); then, `ORDER_STEADY` times, three new cells and a new `%%mlrun` cell:
  the steady state. `ORDER_TRIALS` trials for each size, each with fresh sources and a fresh
  tracker; the finalizer is settled before each `%%mlrun` cell, so its work is not in the figure.

The table is printed and appended to `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def start_kernel(folder: Path, extra_env: dict[str, str]) -> tuple[Any, Any]:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, **extra_env}
    env.pop("MLWS_RUN_ID", None)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(folder), env=env)
    return km, kc


def run(kc: Any, code: str) -> float:
    """One cell's round trip in ms (raises when the cell fails)."""
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))

    start = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=120, output_hook=hook)
    elapsed = (time.perf_counter() - start) * 1000
    if reply["content"]["status"] != "ok" or errors:
        raise RuntimeError(f"cell failed: {code!r}\n{''.join(errors)}")
    return elapsed


def interleaved(
    kc: Any, cells: dict[str, str], rounds: int, warmup: int = 5, gap: float = 0.0
) -> dict[str, float]:
    """Median round trip per kind of cell; `gap` seconds of idle before each cell (a person
    runs cells seconds apart, so a cell's background work is done before the next one)."""
    for _ in range(warmup):
        for code in cells.values():
            run(kc, code)
    times: dict[str, list[float]] = {name: [] for name in cells}
    for _ in range(rounds):
        for name, code in cells.items():
            if gap:
                time.sleep(gap)
            times[name].append(run(kc, code))
    return {name: statistics.median(values) for name, values in times.items()}


#: `%%mlrun` cells in one Run All burst of the back-to-back row (with as many plain cells).
RUN_ALL_ROUNDS = 20
SETTLE = "from jupyter_mlws.client.finalizer import settle as _settle; _settle()"


def run_all_bursts(
    kc: Any, cells: dict[str, str], rounds: int, per_burst: int = RUN_ALL_ROUNDS
) -> dict[str, float]:
    """Median round trip per kind of cell, sent back to back in bursts of `per_burst` rounds (a
    notebook's Run All); between bursts the kernel is idle until the background work is done."""
    times: dict[str, list[float]] = {name: [] for name in cells}
    for first in range(0, rounds, per_burst):
        for _ in range(min(per_burst, rounds - first)):
            for name, code in cells.items():
                times[name].append(run(kc, code))
        run(kc, SETTLE)
    return {name: statistics.median(values) for name, values in times.items()}


IN_KERNEL_LOOP = """
import time as _t, statistics as _s
_sh = get_ipython()
def _loop(n):
    xs = []
    for _ in range(n):
        a = _t.perf_counter(); _sh.run_cell("pass", store_history=True); xs.append(_t.perf_counter() - a)
    return _s.median(xs) * 1e6
"""


def bench_ours(folder: Path, rounds: int) -> dict[str, float]:
    nb = folder / "bench.ipynb"
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    env = {"MLWS_WORKSPACE": str(folder / "ws"), "JPY_SESSION_NAME": str(nb), "MLWS_RECORD_EXECUTIONS": "0"}
    km, kc = start_kernel(folder, env)
    try:
        run(kc, "%load_ext jupyter_mlws")
        cells = {
            "plain": "pass",
            "mlrun": "%%mlrun -e bench\npass",
            "mlrun_nosnap": "%%mlrun -e bench --no-snapshot\npass",
        }
        medians = interleaved(kc, cells, rounds, gap=0.1)
        run(kc, SETTLE)
        bursts = run_all_bursts(kc, {"plain": "pass", "mlrun": cells["mlrun"]}, rounds)
        medians["runall_plain"], medians["runall_mlrun"] = bursts["plain"], bursts["mlrun"]
        back_to_back = interleaved(kc, {"plain": "pass", "mlrun": cells["mlrun"]}, rounds, warmup=0)
        medians["b2b_plain"], medians["b2b_mlrun"] = back_to_back["plain"], back_to_back["mlrun"]
        run(kc, SETTLE)  # the recorder's rows below start without a backlog of endings
        # The recorder, measured by round trips (on/off blocks, alternating) and inside the kernel.
        on, off = [], []
        for _ in range(4):
            run(kc, "%mlws record on")
            on.extend(run(kc, "pass") for _ in range(rounds // 2))
            run(kc, "%mlws record off")
            off.extend(run(kc, "pass") for _ in range(rounds // 2))
        medians["recorder_on"] = statistics.median(on)
        medians["recorder_off"] = statistics.median(off)
        run(kc, IN_KERNEL_LOOP)
        inside: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(3):
            for state in ("on", "off"):
                run(kc, f"%mlws record {state}")
                kc.execute_interactive(f"_r = _loop(500)", timeout=120)
                value = _eval(kc, "_r")
                inside[state].append(value)
        medians["inside_on_us"] = statistics.median(inside["on"])
        medians["inside_off_us"] = statistics.median(inside["off"])
        run(kc, "import jupyter_mlws as mlws; mlws.Workspace().settle()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return medians


def _eval(kc: Any, expr: str) -> float:
    reply = kc.execute_interactive("", user_expressions={"v": expr}, timeout=60)
    data = reply["content"]["user_expressions"]["v"]
    return float(data["data"]["text/plain"])


ORDER_CELLS = (50, 200)
ORDER_STEADY = 10
ORDER_TRIALS = 20

ORDER_BENCH = r"""
import json as _json, statistics as _st, time as _t
from jupyter_mlws.client.finalizer import settle as _settle
from jupyter_mlws.notebook.session import session_for as _session_for

_sh = get_ipython()
_sess = _session_for(_sh)
_untimed = _sess.out_of_order
_took = []  # ms per call, in the order CellRun made them


def _timed(body):
    started = _t.perf_counter()
    try:
        return _untimed(body)
    finally:
        _took.append((_t.perf_counter() - started) * 1000)


_sess.out_of_order = _timed  # what CellRun._out_of_order calls


def _cell(trial, i):
    lines = [
        f"a_{trial}_{i} = {f'a_{trial}_{i - 1}' if i else 1} * 2 + {i}",
        f"b_{trial}_{i} = [x ** 2 for x in range({i} % 7)]",
        f"def f_{trial}_{i}(v):",
        f"    return v + a_{trial}_{i} + len(b_{trial}_{i})",
        f"c_{trial}_{i} = f_{trial}_{i}(lr_{trial})",
    ]
    if i % 10 == 0:
        lines.append("_here = %pwd")
    return "\n".join(lines)


def _mlrun(trial, i):
    body = f"model_{trial} = f_{trial}_{i}(lr_{trial})\nscore = model_{trial} * 0.5"
    return "%%mlrun -e order --no-snapshot\n" + body


def _order_trial(trial, n, steady):
    plan = [(f"t{trial}lr", f"lr_{trial} = 0.1")]
    plan += [(f"t{trial}c{i}", _cell(trial, i)) for i in range(n)]
    plan.append((f"t{trial}m0", _mlrun(trial, n - 1)))
    for j in range(1, steady + 1):
        plan += [(f"t{trial}c{i}", _cell(trial, i)) for i in range(n + 3 * (j - 1), n + 3 * j)]
        plan.append((f"t{trial}m{j}", _mlrun(trial, n + 3 * j - 1)))
    empty = {"metadata": {}, "execution_count": None, "outputs": []}
    cells = [{"id": cid, "cell_type": "code", "source": src, **empty} for cid, src in plan]
    saved = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    with open(_sess.notebook_path, "w", encoding="utf-8") as out:  # saved before the cells run
        _json.dump(saved, out)
    _sess._order = None  # a fresh tracker: the first check after these cells analyses them all
    del _sess.ran_cells[:]
    checks = []
    for cid, src in plan:
        mlrun = src.startswith("%%mlrun")
        if mlrun:
            _settle()
        result = _sh.run_cell(src, store_history=True, cell_id=cid)
        if not result.success:
            raise RuntimeError(f"cell {cid} failed: {result.error_in_exec or result.error_before_exec}")
        if mlrun:
            checks.append(_took[-1])
    return checks[0], checks[1:]


def _order_bench(sizes, steady, trials):
    out = {}
    for n in sizes:
        first, rest = [], []
        for trial in range(trials):
            a, b = _order_trial(f"{n}_{trial}", n, steady)
            first.append(a)
            rest.extend(b)
        for name, xs in (("first", first), ("steady", rest)):
            out[f"{n}_{name}_median"] = _st.median(xs)
            out[f"{n}_{name}_p95"] = _st.quantiles(xs, n=20)[-1]
            out[f"{n}_{name}_count"] = len(xs)
    _settle()
    return _json.dumps(out)
"""


def bench_order(folder: Path, trials: int) -> dict[str, float]:
    """The out-of-order check's time per `%%mlrun` cell, inside its own kernel (see the docstring)."""
    nb = folder / "order.ipynb"
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    env = {
        "MLWS_WORKSPACE": str(folder / "ws-order"),
        "JPY_SESSION_NAME": str(nb),
        "MLWS_RECORD_EXECUTIONS": "0",
    }
    km, kc = start_kernel(folder, env)
    try:
        run(kc, "%load_ext jupyter_mlws")
        run(kc, ORDER_BENCH)
        run(kc, "_order_bench([8], 2, 2)")  # warm-up: imports, the first run, the card
        run(kc, f"_order_result = _order_bench({list(ORDER_CELLS)}, {ORDER_STEADY}, {trials})")
        reply = kc.execute_interactive("", user_expressions={"v": "_order_result"}, timeout=60)
        text = reply["content"]["user_expressions"]["v"]["data"]["text/plain"]  # the str's repr
        return {key: float(value) for key, value in json.loads(ast.literal_eval(text)).items()}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def bench_mlflow(folder: Path, rounds: int) -> dict[str, float] | None:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return None
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}", "GIT_PYTHON_REFRESH": "quiet"}
    km, kc = start_kernel(folder, env)
    try:
        run(kc, "import mlflow, logging; logging.getLogger('mlflow').setLevel(logging.ERROR); mlflow.set_experiment('bench')")
        return interleaved(
            kc, {"plain": "pass", "run": "with mlflow.start_run():\n    pass"}, max(10, rounds // 4), warmup=3, gap=0.1
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def fmt_ms(value: float) -> str:
    return f"{value:.2f} ms"


def fmt_check(ms: float) -> str:
    return f"{ms * 1000:.0f} µs" if ms < 1 else f"{ms:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--order-trials", type=int, default=ORDER_TRIALS)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mlws-bench-nb-") as tmp:
        ours = bench_ours(Path(tmp), args.rounds)
        order = bench_order(Path(tmp), args.order_trials)
        theirs = bench_mlflow(Path(tmp), args.rounds)
    added = ours["mlrun"] - ours["plain"]
    added_nosnap = ours["mlrun_nosnap"] - ours["plain"]
    rows = [
        ("plain cell `pass`, round trip", fmt_ms(ours["plain"]), fmt_ms(theirs["plain"]) if theirs else "", "", "", "median, interleaved"),
        (
            "`%%mlrun` on an empty cell, added",
            fmt_ms(added),
            fmt_ms(theirs["run"] - theirs["plain"]) if theirs else "",
            f"{(theirs['run'] - theirs['plain']) / added:.0f}x" if theirs and added > 0 else "",
            "≤ 5 ms",
            f"round trip {fmt_ms(ours['mlrun'])}; MLflow: `with mlflow.start_run(): pass`",
        ),
        ("`%%mlrun --no-snapshot`, added", fmt_ms(added_nosnap), "", "", "", f"round trip {fmt_ms(ours['mlrun_nosnap'])}"),
        (
            f"`%%mlrun` back to back, Run All of {2 * RUN_ALL_ROUNDS} cells, added",
            fmt_ms(ours["runall_mlrun"] - ours["runall_plain"]),
            "",
            "",
            "≤ 5 ms",
            f"{fmt_ms(ours['runall_mlrun'])} vs plain {fmt_ms(ours['runall_plain'])}; bursts of "
            f"{RUN_ALL_ROUNDS} `%%mlrun` and {RUN_ALL_ROUNDS} plain cells, interleaved, no idle between "
            "cells, idle between bursts",
        ),
        (
            "`%%mlrun` back to back (no idle between cells), added",
            fmt_ms(ours["b2b_mlrun"] - ours["b2b_plain"]),
            "",
            "",
            "",
            f"{fmt_ms(ours['b2b_mlrun'])} vs plain {fmt_ms(ours['b2b_plain'])}; unbroken for "
            f"{args.rounds} rounds: past the backlog limit the previous cells' background work (log, "
            "environment, snapshot, end) overlaps the next cells",
        ),
        (
            "execution recorder, added per cell (inside the kernel)",
            f"{ours['inside_on_us'] - ours['inside_off_us']:.0f} µs",
            "",
            "",
            "≤ 1 ms",
            f"`run_cell('pass')`: {ours['inside_on_us']:.0f} µs on, {ours['inside_off_us']:.0f} µs off",
        ),
        (
            "execution recorder, added per cell (round trip)",
            fmt_ms(ours["recorder_on"] - ours["recorder_off"]),
            "",
            "",
            "≤ 1 ms",
            f"{fmt_ms(ours['recorder_on'])} on, {fmt_ms(ours['recorder_off'])} off",
        ),
    ]
    for n in ORDER_CELLS:
        for phase, what in (("first", f"first check after {n} cells"), ("steady", "then each check")):
            steady = f" (3 new cells before each, {n} cells before the first)" if phase == "steady" else ""
            rows.append(
                (
                    f"out-of-order check per `%%mlrun` cell, {what} (inside the kernel)",
                    fmt_check(order[f"{n}_{phase}_median"]),
                    "",
                    "",
                    "≤ 1 ms",
                    f"median; p95 {fmt_check(order[f'{n}_{phase}_p95'])} over "
                    f"{order[f'{n}_{phase}_count']:.0f} checks{steady}",
                )
            )
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mlflow_version = ""
    if theirs:
        import mlflow

        mlflow_version = f", MLflow {mlflow.__version__}"
    text = (
        f"\n## Notebook runs — {when}\n\nMachine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}{mlflow_version}; "
        f"{args.rounds} rounds; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        f"the end; total {time.perf_counter() - started:.0f} s.\n\n"
        "| work | jupyter_mlws | MLflow | ratio | target | note |\n|---|---|---|---|---|---|\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in rows)
    )
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    sys.exit(main())
