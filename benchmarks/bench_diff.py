"""Run diff benchmark: `ws.diff(run_a, run_b)` on runs holding a notebook, beside nbdime's `diff_notebooks`.

What it measures: how long our run diff takes to say what two notebook runs did differently, end
to end (both runs read from the workspace's store, every part of the diff computed: params,
metrics, tags, environment, code, cells, history, artifacts), against nbdime comparing the same
two notebook files. The cells part is the one that costs: `repro/cells.py` compares a cell's
outputs by one hash and diffs their text only when the hashes differ; nbdime aligns the cells, and
the outputs within each cell, with its multi-level sequence diff (predicates from approximate to
strict, then equal ids), and diffs every matched pair.

Run: `.venv/bin/python benchmarks/bench_diff.py [--cells 50 200] [--repeats 5] [--nbdime-repeats 3]
[--nbdime-timeout 600] [--nbdime-slow 60] [--nbdime-venv .venv-nbdime] [--ids with|without|both]
[--no-nbdime] [--no-write]`.
It is a script, not a test: pytest does not collect it.

The notebooks (built here, seeded; written as Jupyter writes them: sources and texts as lists of
lines, indent 1). For each size N (`--cells`, default 50 and 200):
one base notebook `a` of N code cells, each a few lines of training code, its output a stdout
stream of 20 lines of a training log (step, loss, accuracy, learning rate, ms a step: numbers from
a generator seeded by the cell and the variant), an `execute_result` whose text/plain is a dict
of validation scores, and, in every fourth cell, a `display_data` with a small PNG (a 128 x 96
grey loss curve over noise, about 8.6 KB) and its text/plain `<Figure ...>`. Two pairs against `a`:
- sources changed: every cell's source differs (its learning rate and seed), outputs the same;
- all outputs changed: every cell's stdout, result text and image differ, sources the same.
`--ids` (default both): the notebooks as nbformat 4.5 writes them, with cell ids, and the same
notebooks as 4.4 without ids (older notebooks; many in the wild). The ids matter to both tools: we
match cells by id, else by position; nbdime 4 pairs cells by id when both sides have the same
ids, and otherwise aligns them with its similarity heuristics, comparing every cell of `a` with
every cell of `b` (seconds at 50 cells, minutes at 200). The targets are judged on the 4.5 rows.
Each notebook is a run of its own in a folder workspace in a temp folder: the notebook alone in a
project folder, recorded by `take_snapshot(run, project, notebook_path=...)` as `%%mlrun` does,
so `ws.diff` finds it in the run's code snapshot. nbdime reads the very same files.

Ours: `ws.diff(a, b)` in this process (the script runs with the Python of `.venv`, where
jupyter_mlws is installed in development mode). Warm: one untimed call on the pair, then the
median of `--repeats` (default 5). Cold: the first `ws.diff` in a fresh interpreter (a child
process of the same Python that opens the workspace and times that one call; the interpreter's
start and `import jupyter_mlws` are outside it, the lazy imports the diff itself makes, such as
pandas, about 0.4 s here, inside it): what a user meets in a new kernel that has not imported
pandas yet.

nbdime: `nbdime.diff_notebooks(a, b)` on the two notebooks read with `nbformat.read(path,
as_version=4)`, in a venv of its own (`--nbdime-venv`, default `.venv-nbdime`, git-ignored like
`.venv-ray`; created with `pip install nbdime` on first use; never the test venv), through a child
process that runs the driver below and prints one JSON line a call. After an untimed warm-up (a
two-cell diff, for nbdime's imports and first-call set-up) it times `--nbdime-repeats` calls
(default 3) and reports their median; the reading of the files is timed apart and shown in the
note (the ratio is on `diff_notebooks` alone, which favours nbdime, since ours includes reading
the runs). A call slower than `--nbdime-slow` seconds (default 60) is not repeated: one call is
the figure (a 200-cell all-outputs diff took minutes here before). A call that does not finish in
`--nbdime-timeout` seconds (default 600) is stopped (its process killed by PID) and reported as
"> 600 s".

Both tools are checked to have found the changes: ours must give one row per cell in `.cells`,
each with the expected change ("source" or "outputs"), and one image pair per image cell in the
outputs pair; nbdime's diff must be non-empty, and its cells entry is summarised (cells patched,
added, removed, and which keys of the patched cells). These checks run outside the timing.

Targets (the issue): ours ≤ 1 s for 200 cells with all outputs changed, and ≥ 100x nbdime there.
The table and pass/fail per target are printed and appended to `benchmarks/RESULTS.md` (unless
`--no-write`).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import platform
import queue
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

LOG_LINES = 20
IMAGE_EVERY = 4
TARGET_SECONDS = 1.0
TARGET_RATIO = 100.0


# ----- the notebooks -----------------------------------------------------------------------------


def lines(text: str) -> list[str]:
    """Text as nbformat stores it on disk: a list of lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def png(values: list[float], seed: int, width: int = 128, height: int = 96) -> str:
    """A small greyscale PNG (base64): a dark curve of `values` over light noise, like a plot."""
    rng = random.Random(seed)
    rows = [bytearray(rng.randrange(215, 256) for _ in range(width)) for _ in range(height)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    for x in range(width):
        at = x * (len(values) - 1) / (width - 1)
        left = int(at)
        right = min(left + 1, len(values) - 1)
        value = values[left] + (values[right] - values[left]) * (at - left)
        y = int((1 - (value - low) / span) * (height - 9)) + 4
        for dy in (-1, 0, 1):
            rows[y + dy][x] = 30
    raw = b"".join(b"\0" + bytes(row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
    return base64.b64encode(data + chunk(b"IEND", b"")).decode()


def cell(index: int, source_variant: int, output_variant: int) -> dict[str, Any]:
    """Code cell `index`: its source depends on `source_variant`, its outputs on `output_variant`."""
    lr = 1e-3 * (1 + source_variant)
    seed = 1000 * source_variant + index
    with_image = index % IMAGE_EVERY == IMAGE_EVERY - 1
    source = (
        f"# block {index}: {LOG_LINES} more steps\n"
        f"lr = {lr:g}\n"
        f'history = train(model, loaders["train"], steps={LOG_LINES}, lr=lr, seed={seed})\n'
        "for row in history:\n"
        '    print(f"step {row.step:4d}  loss {row.loss:.4f}  acc {row.acc:.4f}  '
        'lr {lr:.1e}  {row.ms:.1f} ms")\n'
        + ("plot_curve(history)\n" if with_image else "")
        + 'scores = evaluate(model, loaders["val"])\n'
        "scores"
    )
    rng = random.Random(f"{output_variant}-{index}")
    loss, acc, steps, losses = 2.3 * rng.uniform(0.5, 1.0), rng.uniform(0.1, 0.3), [], []
    for step in range(LOG_LINES):
        loss *= rng.uniform(0.90, 0.99)
        acc += (1 - acc) * rng.uniform(0.02, 0.08)
        losses.append(loss)
        steps.append(
            f"step {index * LOG_LINES + step:4d}  loss {loss:.4f}  acc {acc:.4f}  lr 1.0e-03  "
            f"{rng.uniform(11, 14):.1f} ms\n"
        )
    scores = (
        f"{{'val_loss': {loss * rng.uniform(1.0, 1.2):.4f}, 'val_acc': {acc * rng.uniform(0.9, 1.0):.4f}, "
        f"'f1': {acc * rng.uniform(0.85, 0.95):.4f}}}"
    )
    outputs: list[dict[str, Any]] = [{"output_type": "stream", "name": "stdout", "text": steps}]
    if with_image:
        outputs.append(
            {
                "output_type": "display_data",
                "data": {
                    "image/png": png(losses, seed=100_000 * output_variant + index),
                    "text/plain": ["<Figure size 640x480 with 1 Axes>"],
                },
                "metadata": {},
            }
        )
    outputs.append(
        {
            "output_type": "execute_result",
            "execution_count": index + 1,
            "data": {"text/plain": lines(scores)},
            "metadata": {},
        }
    )
    return {
        "cell_type": "code",
        "execution_count": index + 1,
        "id": f"cell-{index:04d}",
        "metadata": {},
        "outputs": outputs,
        "source": lines(source),
    }


def notebook(cells: int, source_variant: int, output_variant: int, ids: bool = True) -> dict[str, Any]:
    """nbformat 4.5 with cell ids, or (`ids` false) 4.4 without them, as older notebooks are."""
    found = [cell(i, source_variant, output_variant) for i in range(cells)]
    if not ids:
        for each in found:
            del each["id"]
    return {
        "cells": found,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": platform.python_version()},
        },
        "nbformat": 4,
        "nbformat_minor": 5 if ids else 4,
    }


#: pair name -> (source variant, output variant) of notebook b; notebook a is (0, 0).
PAIRS = {"sources changed": (1, 0), "all outputs changed": (0, 1)}
EXPECTED = {"sources changed": "source", "all outputs changed": "outputs"}


# ----- ours --------------------------------------------------------------------------------------


def make_runs(ws: Any, folder: Path, cells: int, ids: bool) -> dict[str, Any]:
    """The notebooks of size `cells` as files and as runs; {name: {"path", "run", "bytes"}}."""
    from jupyter_mlws.client.snapshot import take_snapshot

    made: dict[str, Any] = {}
    for name, (source_variant, output_variant) in {"a": (0, 0), **PAIRS}.items():
        project = folder / "projects" / f"{cells}-{'ids' if ids else 'no-ids'}-{name.replace(' ', '-')}"
        project.mkdir(parents=True)
        path = project / "analysis.ipynb"
        text = json.dumps(notebook(cells, source_variant, output_variant, ids), indent=1, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        run = ws.start_run("diff-bench", f"{cells} cells, {name}{'' if ids else ', no ids'}")
        take_snapshot(run, project, notebook_path=str(path))
        run.end()
        made[name] = {"path": path, "run": run.id, "bytes": path.stat().st_size}
    return made


def check_ours(diff: Any, pair: str, cells: int) -> dict[str, Any]:
    frame = diff.cells
    changes = sorted(set(frame["change"])) if len(frame) else []
    images = len(diff.images)
    want_images = cells // IMAGE_EVERY if pair == "all outputs changed" else 0
    ok = len(frame) == cells and changes == [EXPECTED[pair]] and images == want_images
    return {"rows": len(frame), "changes": changes, "images": images, "ok": ok}


def ours_warm(ws: Any, run_a: str, run_b: str, repeats: int) -> tuple[list[float], Any]:
    diff = ws.diff(run_a, run_b)  # untimed: the pair's first call in this process
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        diff = ws.diff(run_a, run_b)
        times.append(time.perf_counter() - started)
    return times, diff


COLD_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import jupyter_mlws as mlws
    ws = mlws.Workspace(sys.argv[1])
    started = time.perf_counter()
    diff = ws.diff(sys.argv[2], sys.argv[3])
    seconds = time.perf_counter() - started
    rows = len(diff.cells)
    ws.close()
    print(json.dumps({"seconds": seconds, "rows": rows}))
    """
)


def ours_cold(workspace: Path, run_a: str, run_b: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLWS_")}
    done = subprocess.run(
        [sys.executable, "-c", COLD_CHILD, str(workspace), run_a, run_b],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the cold ws.diff child exited {done.returncode}:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


# ----- nbdime ------------------------------------------------------------------------------------

NBDIME_DRIVER = textwrap.dedent(
    """
    import json, statistics, sys, time
    import nbformat
    import nbdime
    from nbdime import diff_notebooks

    path_a, path_b, repeats, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

    def say(**found):
        print(json.dumps(found), flush=True)

    def summary(diff):
        found = {"entries": len(diff), "keys": sorted(str(e["key"]) for e in diff), "patch": 0,
                 "added": 0, "removed": 0, "cell_keys": {}}
        for entry in diff:
            if entry["key"] != "cells" or entry["op"] != "patch":
                continue
            for sub in entry["diff"]:
                if sub["op"] == "patch":
                    found["patch"] += 1
                    for part in sub["diff"]:
                        found["cell_keys"][part["key"]] = found["cell_keys"].get(part["key"], 0) + 1
                elif sub["op"] == "addrange":
                    found["added"] += len(sub["valuelist"])
                elif sub["op"] == "removerange":
                    found["removed"] += sub["length"]
        return found

    def read():
        return nbformat.read(path_a, as_version=4), nbformat.read(path_b, as_version=4)

    a, b = read()
    small_a, small_b = nbformat.from_dict(a), nbformat.from_dict(b)
    small_a.cells, small_b.cells = a.cells[:2], b.cells[:2]
    diff_notebooks(small_a, small_b)  # untimed warm-up
    say(event="ready", nbdime=nbdime.__version__, nbformat=nbformat.__version__)
    for call in range(repeats):
        started = time.perf_counter()
        a, b = read()
        read_done = time.perf_counter()
        diff = diff_notebooks(a, b)
        ended = time.perf_counter()
        found = summary(diff) if call == 0 else None
        say(event="call", read=read_done - started, diff=ended - read_done, found=found)
        if ended - read_done > slow:
            break
    """
)


def nbdime_python(venv: Path) -> Path:
    """The Python of the nbdime venv, created with `pip install nbdime` on first use."""
    python = venv / "bin" / "python"
    check = (
        subprocess.run([str(python), "-c", "import nbdime"], capture_output=True) if python.exists() else None
    )
    if check is None or check.returncode != 0:
        print(f"Creating {venv} with nbdime (first use only) ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "nbdime"], check=True)
    return python


def nbdime_side(
    python: Path, folder: Path, path_a: Path, path_b: Path, repeats: int, slow: float, timeout: float
) -> dict[str, Any]:
    """Run the driver on one pair; {"calls": [...], "found": ..., "timed_out": bool, versions}."""
    script = folder / "nbdime_driver.py"
    script.write_text(NBDIME_DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(
        [str(python), str(script), str(path_a), str(path_b), str(repeats), str(slow)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=folder,
        start_new_session=True,
    )
    lines_read: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines_read.put(line)
        lines_read.put(None)

    def pump_errors() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    threads = [threading.Thread(target=pump, daemon=True), threading.Thread(target=pump_errors, daemon=True)]
    for thread in threads:
        thread.start()
    result: dict[str, Any] = {"calls": [], "found": None, "timed_out": False}
    try:
        while True:
            try:
                line = lines_read.get(timeout=timeout)  # each call (and the set-up) within `timeout`
            except queue.Empty:
                result["timed_out"] = True
                proc.kill()  # by its PID; the driver starts no processes of its own
                break
            if line is None:
                break
            event = json.loads(line)
            if event["event"] == "ready":
                result.update(nbdime=event["nbdime"], nbformat=event["nbformat"])
            else:
                result["calls"].append({"read": event["read"], "diff": event["diff"]})
                if event["found"] is not None:
                    result["found"] = event["found"]
    finally:
        code = proc.wait()
        for thread in threads:
            thread.join(timeout=5)
    if code != 0 and not result["timed_out"]:
        raise RuntimeError(f"the nbdime driver exited {code}:\n{''.join(errors)[-3000:]}")
    return result


# ----- the report --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def size(count: int) -> str:
    return f"{count / 1024:,.0f} KB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[50, 200], help="sizes (default 50 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timed warm calls of ours (default 5)")
    parser.add_argument("--nbdime-repeats", type=int, default=3, help="timed nbdime calls (default 3)")
    parser.add_argument(
        "--nbdime-slow", type=float, default=60.0, help="a nbdime call slower than this is not repeated (s)"
    )
    parser.add_argument(
        "--nbdime-timeout", type=float, default=600.0, help="a nbdime call is stopped after this (s)"
    )
    parser.add_argument(
        "--nbdime-venv", default=str(REPO / ".venv-nbdime"), help="venv for nbdime (default .venv-nbdime)"
    )
    parser.add_argument(
        "--ids",
        choices=("with", "without", "both"),
        default="both",
        help="notebooks with cell ids (4.5), without (4.4), or both (default)",
    )
    parser.add_argument("--no-nbdime", action="store_true", help="skip nbdime")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    os.environ.pop("MLWS_WORKSPACE", None)
    os.environ.pop("MLWS_RUN_ID", None)
    sys.path.insert(0, str(REPO))
    began = time.monotonic()
    load_start = os.getloadavg()[0]
    import jupyter_mlws as mlws

    python = None if args.no_nbdime else nbdime_python(Path(args.nbdime_venv))
    rows: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mlws-bench-diff-") as tmp:
        folder = Path(tmp)
        ws = mlws.Workspace(folder / "ws")
        try:
            variants = {"with": [True], "without": [False], "both": [True, False]}[args.ids]
            made = {(ids, n): make_runs(ws, folder, n, ids) for ids in variants for n in args.cells}
            ws.flush()
            for ids, cells in made:
                for pair in PAIRS:
                    a, b = made[ids, cells]["a"], made[ids, cells][pair]
                    label = f"{cells} cells, {pair}{'' if ids else ', no cell ids (nbformat 4.4)'}"
                    row: dict[str, Any] = {"cells": cells, "pair": pair, "ids": ids, "label": label}
                    row["bytes"] = (a["bytes"], b["bytes"])
                    row["cold"] = ours_cold(folder / "ws", a["run"], b["run"])
                    row["warm"], diff = ours_warm(ws, a["run"], b["run"], args.repeats)
                    row["ours_found"] = check_ours(diff, pair, cells)
                    print(
                        f"{label}: ours warm {ms(statistics.median(row['warm']))} ms "
                        f"(cold {ms(row['cold'])} ms); found {row['ours_found']}",
                        flush=True,
                    )
                    if python is not None:
                        theirs = nbdime_side(
                            python,
                            folder,
                            a["path"],
                            b["path"],
                            args.nbdime_repeats,
                            args.nbdime_slow,
                            args.nbdime_timeout,
                        )
                        versions.update({k: theirs[k] for k in ("nbdime", "nbformat") if k in theirs})
                        row["nbdime"] = theirs
                        got = [c["diff"] for c in theirs["calls"]]
                        shown = f"{ms(statistics.median(got))} ms over {len(got)} call(s)" if got else "none"
                        stopped = "; stopped at the timeout" if theirs["timed_out"] else ""
                        print(
                            f"{label}: nbdime {shown}{stopped}; found {theirs['found']}",
                            flush=True,
                        )
                    rows.append(row)
        finally:
            ws.close()

    total = time.monotonic() - began
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = [
        "| pair | ours, warm (ms) | ours, cold (ms) | nbdime (ms) | nbdime / ours | target | found | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for row in rows:
        warm = statistics.median(row["warm"])
        ours_found = row["ours_found"]
        pictures = f"; {ours_found['images']} image pair(s)" if ours_found["images"] else ""
        found = (
            f"ours {ours_found['rows']} rows ({', '.join(ours_found['changes'])}{pictures})"
            f"{'' if ours_found['ok'] else ' UNEXPECTED'}"
        )
        note = (
            f"ours {ms(min(row['warm']))}-{ms(max(row['warm']))} ms over {len(row['warm'])}; "
            f"notebooks {size(row['bytes'][0])} and {size(row['bytes'][1])}"
        )
        theirs_ms = ratio = ""
        theirs = row.get("nbdime")
        if theirs is not None:
            got = [c["diff"] for c in theirs["calls"]]
            if theirs["timed_out"] and not got:
                theirs_ms = f"> {args.nbdime_timeout:.0f} s"
                ratio = f"> {args.nbdime_timeout / warm:,.0f}x"
                note += f"; nbdime stopped after {args.nbdime_timeout:.0f} s"
            else:
                median = statistics.median(got)
                theirs_ms = ms(median)
                ratio = f"{median / warm:,.0f}x" if median / warm >= 10 else f"{median / warm:.1f}x"
                reads = statistics.median(c["read"] for c in theirs["calls"])
                note += (
                    f"; nbdime {'median of ' + str(len(got)) if len(got) > 1 else 'one call'}"
                    f"{f' ({ms(min(got))}-{ms(max(got))} ms)' if len(got) > 1 else ''}, "
                    f"reading both files {ms(reads)} ms more"
                )
                if theirs["timed_out"]:
                    note += f"; a later nbdime call was stopped after {args.nbdime_timeout:.0f} s"
            nb = theirs["found"]
            if nb is not None:
                keys = ", ".join(f"{k} {v}" for k, v in sorted(nb["cell_keys"].items()))
                found += (
                    f"; nbdime {'non-empty' if nb['entries'] else 'EMPTY'}: {nb['patch']} cells patched "
                    f"({keys}), {nb['added']} added, {nb['removed']} removed"
                )
        target = ""
        if row["cells"] == 200 and row["pair"] == "all outputs changed" and row["ids"]:
            target = f"≤ {TARGET_SECONDS:.0f} s; ≥ {TARGET_RATIO:.0f}x"
            verdicts.append(
                f"- {'PASS' if warm <= TARGET_SECONDS else 'FAIL'}  ours {ms(warm)} ms ≤ "
                f"{TARGET_SECONDS * 1000:,.0f} ms (200 cells, all outputs changed, warm)"
            )
            if theirs is not None:
                got = [c["diff"] for c in theirs["calls"]]
                if got:
                    value = statistics.median(got) / warm
                    verdicts.append(
                        f"- {'PASS' if value >= TARGET_RATIO else 'FAIL'}  nbdime / ours "
                        f"{f'{value:,.0f}' if value >= 10 else f'{value:.1f}'}x ≥ "
                        f"{TARGET_RATIO:.0f}x"
                    )
                else:
                    verdicts.append(
                        f"- PASS  nbdime / ours > {args.nbdime_timeout / warm:,.0f}x ≥ {TARGET_RATIO:.0f}x "
                        "(nbdime stopped at the timeout)"
                    )
        table.append(
            f"| {row['label']} | {ms(warm)} | {ms(row['cold'])} | {theirs_ms} | "
            f"{ratio} | {target} | {found} | {note} |"
        )
    peer = (
        f", nbdime {versions.get('nbdime', '?')}, nbformat {versions.get('nbformat', '?')}"
        if versions
        else ""
    )
    text = (
        f"\n## Run diff vs nbdime — {when}\n\n"
        f"Machine: {platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}{peer}; load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; total {total:.0f} s.\n\n"
        + "\n".join(table)
        + "\n\nTargets:\n\n"
        + ("\n".join(verdicts) if verdicts else "- (no 200-cell pair in this run)")
        + "\n\n(Ours = `ws.diff(a, b)` end to end on a folder workspace (SQLite + local artifacts), the "
        "runs' notebooks read from their code snapshots, every part computed; warm = median after one "
        f"untimed call, cold = the first call in a fresh interpreter. nbdime = `diff_notebooks(a, b)` on "
        "the same files read with `nbformat.read(..., as_version=4)` (reading not in the figure), in "
        f"`.venv-nbdime`, after a two-cell warm-up; median of {args.nbdime_repeats} unless one call "
        f"took over {args.nbdime_slow:.0f} s. Notebooks: N code cells, each a few lines of source, a "
        f"{LOG_LINES}-line training log on stdout, a text/plain result, and in every {IMAGE_EVERY}th cell "
        "a 128 x 96 PNG; see the module docstring.)\n"
    )
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
