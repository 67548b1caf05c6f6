"""Kernel start benchmark (issue 7): a compute-instance kernel's start → ready versus a plain ipykernel.

Run: `python benchmarks/bench_kernel_start.py [--rounds 20] [--no-write]`.

What is timed is what a user waits for after picking a kernel: jupyter_client's
`AsyncKernelManager.start_kernel()` followed by the client's `wait_for_ready()` (the first
`kernel_info` reply), as JupyterLab and nbclient do it. The two kinds alternate, so machine
noise hits both alike, after one warm-up start of each:

- plain: the stock `python3` kernelspec, no `$PYTHONSTARTUP` (a bare ipykernel);
- instance: kernelspec `mlws-bench` (cpus=1, memory 2 GiB), started by our provisioner:
  CPU ledger, environment, affinity + RLIMIT_AS in the child, the RSS watchdog, and the
  jupyter_mlws IPython extension loaded by `notebook/kernel_startup.py` before the kernel
  answers.

Target (DESIGN.md §6): instance median <= 1.1 x plain median. With `--importtime`, the
startup file's imports are listed (`python -X importtime`) to see what the extension costs.
The table is printed and appended to `benchmarks/RESULTS.md` (unless `--no-write`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


async def start_to_ready(kernel_name: str, env: dict[str, str], cwd: str) -> float:
    """Seconds from `start_kernel()` to the first `kernel_info` reply; the kernel is then shut down."""
    from jupyter_client.manager import AsyncKernelManager

    manager = AsyncKernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    await manager.start_kernel(env=env, cwd=cwd)
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return elapsed


async def measure(rounds: int, folder: Path) -> dict[str, list[float]]:
    from jupyter_mlws.compute.spec import validate_instance, write_kernelspec

    instance = validate_instance("bench", cpus=1, memory="2GiB")
    write_kernelspec(instance, str(folder / "ws"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP", "MLWS_WORKSPACE", "MLWS_RUN_ID")}
    kinds = {"plain": "python3", "instance": instance.kernelspec}
    for name in kinds.values():  # warm-up: file caches, bytecode
        await start_to_ready(name, env, str(folder))
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_ in range(rounds):
        order = list(kinds.items()) if round_ % 2 == 0 else list(reversed(kinds.items()))
        for kind, name in order:
            times[kind].append(await start_to_ready(name, env, str(folder)))
    return times


def import_times(limit: int = 15) -> str:
    """The slowest imports of the startup file (cumulative µs), in a fresh interpreter.

    IPython is imported first (a kernel has it already); only what the startup file adds is listed.
    """
    startup = REPO / "jupyter_mlws" / "notebook" / "kernel_startup.py"
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "print('--- startup ---', file=sys.stderr, flush=True)\n"
        f"source = open({str(startup)!r}).read()\n"
        "exec(compile(source, 'kernel_startup.py', 'exec'), {'get_ipython': lambda: shell})\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    rows = []
    for line in done.stderr.split("--- startup ---", 1)[-1].splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return "\n".join(f"{us / 1000:8.1f} ms  {name}" for us, name in rows[:limit])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="starts of each kind (default 20)")
    parser.add_argument("--no-write", action="store_true", help="do not append to benchmarks/RESULTS.md")
    parser.add_argument("--importtime", action="store_true", help="list the startup file's slowest imports")
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-kernel-") as tmp:
        folder = Path(tmp)
        os.environ["JUPYTER_DATA_DIR"] = str(folder / "jupyter-data")
        times = asyncio.run(measure(args.rounds, folder))
    plain, ours = statistics.median(times["plain"]), statistics.median(times["instance"])
    ratio = ours / plain
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    spread = {kind: (min(values), max(values)) for kind, values in times.items()}
    text = (
        f"\n## Kernel start → ready — {when}\n\nMachine: {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"{args.rounds} starts of each kind, alternating; total {time.perf_counter() - began:.0f} s.\n\n"
        "| kernel | median | min - max | ratio | target |\n|---|---|---|---|---|\n"
        f"| plain ipykernel (`python3`, no PYTHONSTARTUP) | {plain:.3f} s | "
        f"{spread['plain'][0]:.3f} - {spread['plain'][1]:.3f} s | 1.00 | |\n"
        f"| compute instance `mlws-bench` (1 CPU, 2 GiB, extension loaded) | {ours:.3f} s | "
        f"{spread['instance'][0]:.3f} - {spread['instance'][1]:.3f} s | {ratio:.2f}x | <= 1.1x |\n"
    )
    print(text)
    if args.importtime:
        print("Slowest imports of notebook/kernel_startup.py (cumulative):\n" + import_times())
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
