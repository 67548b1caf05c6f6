"""Notebook-run benchmark (issue 5): what `%%mlrun` and the execution recorder add to a cell.

Run: `python benchmarks/bench_notebook.py` (MLflow from the `bench` extra for the side-by-side row).

Each kernel is a real ipykernel started with jupyter_client, as JupyterLab starts it; a cell's
round trip is `execute_interactive` (request sent -> reply and idle received), which is what a
user waits for. Cells of the different kinds are interleaved (plain, `%%mlrun`, ...) so that
machine noise hits them alike, and the medians are compared:

- plain cell `pass` versus `%%mlrun` around `pass` (the snapshot on and off): target <= 5 ms added.
  Cells are sent 0.1 s apart, as a person runs them (the run's background work is done by the
  next cell); a second row sends them back to back, where that work overlaps the next cell;
- the same with MLflow: `with mlflow.start_run(): pass` in a cell (SQLite backend, same machine);
- the recorder: plain cells with the recorder on and off, in one kernel. Its cost is also timed
  inside the kernel (`shell.run_cell("pass")` in a loop), where the loopback and ZMQ noise is
  absent: target <= 1 ms per cell.

The table is printed and appended to `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import datetime
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
        back_to_back = interleaved(kc, {"plain": "pass", "mlrun": cells["mlrun"]}, rounds, warmup=0)
        medians["b2b_plain"], medians["b2b_mlrun"] = back_to_back["plain"], back_to_back["mlrun"]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-nb-") as tmp:
        ours = bench_ours(Path(tmp), args.rounds)
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
            "`%%mlrun` back to back (no idle between cells), added",
            fmt_ms(ours["b2b_mlrun"] - ours["b2b_plain"]),
            "",
            "",
            "",
            f"{fmt_ms(ours['b2b_mlrun'])} vs plain {fmt_ms(ours['b2b_plain'])}: the previous cell's "
            "background work (log, environment, snapshot, end) overlaps the next cell",
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
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mlflow_version = ""
    if theirs:
        import mlflow

        mlflow_version = f", MLflow {mlflow.__version__}"
    text = (
        f"\n## Notebook runs — {when}\n\nMachine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}{mlflow_version}; "
        f"{args.rounds} rounds; total {time.perf_counter() - started:.0f} s.\n\n"
        "| work | jupyter_mlws | MLflow | ratio | target | note |\n|---|---|---|---|---|---|\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in rows)
    )
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    sys.exit(main())
