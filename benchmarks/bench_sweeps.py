"""Sweeps benchmark (issue 18, item 7): `ws.jobs.sweep` beside Optuna alone and Ray Tune; ASHA's budget.

Two questions, in one run on the same machine: what a trial costs beyond its objective (ours, whose
trials are jobs, against Optuna in this process with in-memory and SQLite storage, and Ray Tune on
a local Ray), and how much of the budget early termination with ASHA saves on a noisy learning
curve, and at what cost to the best value found.

Run: `python benchmarks/bench_sweeps.py [--trials 40] [--optuna-repeats 5] [--asha-trials 30]
[--step-seconds 0.1] [--ray-venv .venv-ray] [--no-ray] [--no-write]`.

Overhead per trial, the same trivial objective everywhere: `(x - 0.3)² + (y - 0.6)²` over
`x, y ~ uniform(0, 1)`, random sampling seeded with 0, `--trials` trials one at a time.
overhead per trial = (wall time of the N trials - N x the objective's own time) / N, where the
objective's own time is timed here in a loop (it is well under a microsecond, so overhead is in
effect wall / N). The wall time of each side is that of a whole sweep of N trials, its own set-up
included, with its compute already started:
- ours: a folder workspace in a temp folder (SQLite), a cluster `cpu` (0..2 nodes of 1 CPU, a
  Dask LocalCluster of worker processes that this process's dispatcher starts; idle time 300 s
  so no node is retired mid-run), warmed by a 2-trial sweep first. From just before
  `ws.jobs.sweep(trial, ..., max_concurrent_trials=1)` to the sweep job's `ended_time`. The trial
  is a function that logs the value with `mlws.log_metric`: each trial is a job and a run, run by
  a warm process on a Dask worker (one per slot, started once per sweep: `jobs/trial_host.py`).
  Where its time goes is read from the trials' job records (start, the objective's point, the end).
  The same sweep with `reuse_processes=False` (each trial a job in the queue and a child Python
  process of its own, which imports jupyter_mlws) is a row too, set beside the floor of a Python
  process start on this machine (`python -c pass`, and `python -c "import jupyter_mlws"`, medians
  of 5). The same sweep at `max_concurrent_trials=2` is the throughput row.
- Optuna alone: `optuna.create_study(sampler=RandomSampler(seed=0))` + `study.optimize(objective,
  n_trials=N)` in this process, logging at WARNING (as our driver sets it); in memory, and with
  `storage="sqlite:///<temp file>"` (a new file each time; the schema's creation is inside the
  timed span, as our sweep's set-up is in ours). Median of `--optuna-repeats` runs each,
  alternating.
- Ray Tune: `tune.Tuner(objective, param_space={x, y: tune.uniform(0, 1)}, tune_config=TuneConfig(
  num_samples=N, max_concurrent_trials=1, search_alg=BasicVariantGenerator(random_state=0)))`,
  its defaults otherwise (`reuse_actors=False`: an actor per trial; the default result loggers),
  `.fit()` timed; then the same with `reuse_actors=True` as a note. It runs in a script of its own
  with the Python of a venv of its own (`--ray-venv`, default `.venv-ray`, git-ignored; created
  with `ray[default]` on first use by `bench_jobs.ray_python`, and given `ray[tune]` here when it
  lacks it; never the test venv). The script starts a local Ray (`ray.init(num_cpus=2)`, timed
  apart and outside the figure, as our cluster's start is) and prints its timings as JSON. It runs
  after our cluster has stopped, in a session of its own; whatever of it is left after it exits
  is ended by PID (`bench_jobs.stop_ray`), never `ray stop`.

ASHA, on a noisy learning-curve simulator: a config (lr ~ loguniform(1e-4, 1), width ~
uniform(0, 1)) has a final accuracy `final = 0.95 - 0.06 (log10 lr + 2)² - 0.3 (width - 0.7)²`
and a time constant `tau = 2 - log10 lr` (a small lr learns slowly: the curves cross early on);
its accuracy after step s of 27 is `final (1 - exp(-s / tau)) + noise`, the noise normal with sd
0.01 drawn from a generator seeded by the config and the step, so every sweep sees the same curve
for the same config. A trial logs `acc` at steps 1..27, sleeping `--step-seconds` before each
(long enough that the driver, reading every 0.2 s, decides while the trial runs). `--asha-trials`
trials, goal maximize, random sampling seeded with 0 (so the same configs in every sweep), 2 at a
time: ours with `ASHA(min_resource=1, reduction_factor=3)` and ours with no early termination.
Budget = points logged over all trials / (27 x trials); best = the best last `acc` of a trial that
completed; the gap = (best without - best with ASHA) / best without. As a cross-check, the same
with Optuna alone in this process (the same `suggest` of the same space, ASHA's pruner, one trial
at a time, no sleeps).

Targets (issue 18): ≤ 5 ms per trial over Optuna in-memory; ≥ 5x less overhead than Optuna on
SQLite and than Ray Tune; ASHA uses ≤ 30 % of the full budget with a best within 10 % of the
unpruned sweep's. The table and pass/fail per target are printed and appended to
`benchmarks/RESULTS.md` (unless `--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CLUSTER = "cpu"
STEPS = 27
SEED = 0


# ----- the work --------------------------------------------------------------------------------
def objective_value(x: float, y: float) -> float:
    return (x - 0.3) ** 2 + (y - 0.6) ** 2


def trivial_trial(x: float, y: float) -> None:
    """Ours: the same objective, logged as the trial's `obj` (runs in the trial's process)."""
    import jupyter_mlws as mlws

    mlws.log_metric("obj", (x - 0.3) ** 2 + (y - 0.6) ** 2, step=0)


def curve(lr: float, width: float, step: int, noise: bool = True) -> float:
    """The simulator: accuracy of config (lr, width) after `step` steps (module docstring)."""
    import math
    import random

    final = 0.95 - 0.06 * (math.log10(lr) + 2.0) ** 2 - 0.3 * (width - 0.7) ** 2
    tau = 2.0 - math.log10(lr)
    value = final * (1.0 - math.exp(-step / tau))
    return value + random.Random(f"{lr!r}/{width!r}/{step}").gauss(0.0, 0.01) if noise else value


def learner(lr: float, width: float) -> None:
    """Ours: one trial of the simulator, `acc` at steps 1..STEPS (runs in the trial's process)."""
    import time

    import jupyter_mlws as mlws

    for step in range(1, STEPS + 1):
        time.sleep(STEP_SECONDS)
        mlws.log_metric("acc", curve(lr, width, step), step=step)


STEP_SECONDS = 0.1  # set from --step-seconds before the sweeps (the trial takes it by value)


def overhead_space() -> dict[str, Any]:
    from jupyter_mlws.sweep import uniform

    return {"x": uniform(0, 1), "y": uniform(0, 1)}


def curve_space() -> dict[str, Any]:
    from jupyter_mlws.sweep import loguniform, uniform

    return {"lr": loguniform(1e-4, 1.0), "width": uniform(0, 1)}


def objective_seconds() -> float:
    """The trivial objective's own time per call, timed here."""
    calls = 200_000
    began = time.perf_counter()
    for i in range(calls):
        objective_value(i * 1e-6, 0.5)
    return (time.perf_counter() - began) / calls


def process_floor(samples: int = 5) -> dict[str, float]:
    """Median wall of `python -c pass` and of `python -c "import jupyter_mlws"` here."""
    found = {}
    for name, code in (("pass", "pass"), ("import", "import jupyter_mlws")):
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
            times.append(time.perf_counter() - began)
        found[name] = statistics.median(times)
    return found


def ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


# ----- Optuna alone ----------------------------------------------------------------------------
def optuna_overhead(n: int, storage: str | None) -> tuple[float, float]:
    """Wall seconds of create_study + optimize of n trivial trials (in memory, or on `storage`),
    and of create_study alone."""
    import optuna

    def objective(trial: Any) -> float:
        return objective_value(trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1))

    began = time.perf_counter()
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.RandomSampler(seed=SEED), storage=storage
    )
    created = time.perf_counter() - began
    study.optimize(objective, n_trials=n)
    took = time.perf_counter() - began
    if len(study.trials) != n:
        raise RuntimeError(f"optuna ran {len(study.trials)} trials, not {n}")
    return took, created


def optuna_asha(trials: int, prune: bool) -> dict[str, Any]:
    """The simulator through Optuna alone, one trial at a time, no sleeps."""
    import optuna

    from jupyter_mlws.sweep import ASHA, suggest

    space = curve_space()
    pruner = ASHA(min_resource=1, reduction_factor=3).pruner("maximize") if prune else None
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=SEED),
        pruner=pruner or optuna.pruners.NopPruner(),
    )
    points = 0
    configs = []

    def objective(trial: Any) -> float:
        nonlocal points
        values = suggest(trial, space)
        configs.append((values["lr"], values["width"]))
        value = 0.0
        for step in range(1, STEPS + 1):
            value = curve(values["lr"], values["width"], step)
            points += 1
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=trials)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value)
    return {
        "budget": points / (STEPS * trials),
        "best": best.value,
        "best_config": (best.params["lr"], best.params["width"]),
        "completed": len(done),
        "configs": configs,
    }


# ----- ours --------------------------------------------------------------------------------------
def trial_jobs(ws: Any, sweep: Any) -> list[Any]:
    """The trials' job records, in trial order."""
    table = sweep.trials().sort_values("trial")
    return [ws.store.get_job(ws.store.get_run(r).data.tags["mlws.job.id"]) for r in table["run_id"]]


def ours_overhead(ws: Any, n: int, concurrent: int, reuse: bool = True) -> dict[str, Any]:
    """One sweep of n trivial trials; its wall time and where it went (job records)."""
    t0 = time.time()
    sweep = ws.jobs.sweep(
        trivial_trial,
        search_space=overhead_space(),
        objective="obj",
        goal="minimize",
        sampling="random",
        max_trials=n,
        max_concurrent_trials=concurrent,
        target=CLUSTER,
        experiment=f"bench-overhead-{concurrent}{'' if reuse else '-cold'}",
        seed=SEED,
        reuse_processes=reuse,
    )
    sweep.wait(900)
    record = sweep.refresh()
    wall = record.ended_time / 1000 - t0
    table = sweep.trials()
    if len(table) != n or set(table["status"]) != {"completed"}:
        raise RuntimeError(f"ours: {len(table)} trials, statuses {sorted(set(table['status']))}")
    jobs = sorted(trial_jobs(ws, sweep), key=lambda j: j.submitted_time)
    gaps = [b.submitted_time - a.ended_time for a, b in itertools.pairwise(jobs)]
    logged = [int(ws.store.get_metric_history(j.run_id, "obj").timestamps[0]) for j in jobs]
    return {
        "wall": wall,
        "n": n,
        "best": float(table["obj"].min()),
        "call": sweep.record.submitted_time / 1000 - t0,
        "first_claim": jobs[0].started_time / 1000 - t0,
        "tail": record.ended_time / 1000 - max(j.ended_time for j in jobs) / 1000,
        "queue_to_claim": statistics.median((j.started_time - j.submitted_time) / 1000 for j in jobs),
        "claim_to_end": statistics.median((j.ended_time - j.started_time) / 1000 for j in jobs),
        "claim_to_logged": statistics.median(
            (t - j.started_time) / 1000 for j, t in zip(jobs, logged, strict=True)
        ),
        "logged_to_end": statistics.median(
            (j.ended_time - t) / 1000 for j, t in zip(jobs, logged, strict=True)
        ),
        "end_to_next": statistics.median(g / 1000 for g in gaps) if concurrent == 1 else None,
    }


def ours_asha(ws: Any, trials: int, prune: bool) -> dict[str, Any]:
    from jupyter_mlws.sweep import ASHA

    t0 = time.time()
    sweep = ws.jobs.sweep(
        learner,
        search_space=curve_space(),
        objective="acc",
        goal="maximize",
        sampling="random",
        early_termination=ASHA(min_resource=1, reduction_factor=3) if prune else None,
        max_trials=trials,
        max_concurrent_trials=2,
        target=CLUSTER,
        experiment="bench-asha" if prune else "bench-no-early-stop",
        seed=SEED,
    )
    sweep.wait(1800)
    wall = sweep.refresh().ended_time / 1000 - t0
    table = sweep.trials()
    if len(table) != trials:
        raise RuntimeError(f"ours ({'ASHA' if prune else 'no early termination'}): {len(table)} trials")
    counts = [len(ws.store.get_metric_history(r, "acc").steps) for r in table["run_id"]]
    points = sum(counts)
    late = 0  # points a stopped trial logged past the step at which the policy stopped it
    for count, status, reason in zip(counts, table["status"], table["reason"], strict=True):
        decided = re.search(r" at step (\d+),", str(reason or "")) if status == "canceled" else None
        if decided:
            late += max(0, count - int(decided.group(1)))
    done = table[table["status"] == "completed"]
    if done.empty:
        raise RuntimeError("no trial completed")
    best = done.iloc[int(done["acc"].values.argmax())]
    statuses = table["status"].value_counts().to_dict()
    if not prune and statuses != {"completed": trials}:
        raise RuntimeError(f"no early termination, yet the trials ended {statuses}")
    return {
        "budget": points / (STEPS * trials),
        "points": points,
        "late": late,
        "best": float(best["acc"]),
        "best_config": (float(best["params.lr"]), float(best["params.width"])),
        "statuses": statuses,
        "wall": wall,
        "configs": sorted(zip(table["params.lr"], table["params.width"], strict=True)),
    }


def run_ours(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    import jupyter_mlws as mlws
    from jupyter_mlws.client.jobs import stop_local_dispatchers

    found: dict[str, Any] = {}
    ws = mlws.Workspace(folder)
    try:
        ws.compute.create_cluster(
            CLUSTER, min_nodes=0, max_nodes=2, node={"cpus": 1}, idle_seconds_before_scaledown=300
        )
        print("ours: warm-up sweep (cluster start, 2 nodes) ...", flush=True)
        began = time.time()
        ours_overhead(ws, 2, 2)
        found["warmup"] = time.time() - began
        print(f"ours: {args.trials} trivial trials, 1 at a time ...", flush=True)
        found["c1"] = ours_overhead(ws, args.trials, 1)
        print(f"ours: {args.trials} trivial trials, 1 at a time, a process each ...", flush=True)
        found["cold"] = ours_overhead(ws, args.trials, 1, reuse=False)
        print(f"ours: {args.trials} trivial trials, 2 at a time ...", flush=True)
        found["c2"] = ours_overhead(ws, args.trials, 2)
        print(f"ours: {args.asha_trials} simulator trials, no early termination ...", flush=True)
        found["full"] = ours_asha(ws, args.asha_trials, prune=False)
        print(f"ours: {args.asha_trials} simulator trials, ASHA ...", flush=True)
        found["asha"] = ours_asha(ws, args.asha_trials, prune=True)
    finally:
        stop_local_dispatchers()
        ws.close()
    return found


# ----- Ray Tune ----------------------------------------------------------------------------------
RAY_TUNE_DRIVER = textwrap.dedent(
    """
    import json, sys, time
    import ray
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    trials, folder, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

    def objective(config):
        began = time.time()
        tune.report({"obj": (config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2, "began": began})

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200_000_000,
             _temp_dir=folder + "/ray", log_to_driver=False)
    started = time.perf_counter() - t0
    found = {"version": ray.__version__, "init": started}
    for reuse in (False, True):
        t0 = time.perf_counter()
        tuner = tune.Tuner(
            objective,
            param_space={"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(
                metric="obj", mode="min", num_samples=trials, max_concurrent_trials=1,
                reuse_actors=reuse, search_alg=BasicVariantGenerator(random_state=seed),
            ),
            run_config=tune.RunConfig(name=f"bench-reuse-{reuse}", storage_path=folder + "/results",
                                      verbose=0),
        )
        grid = tuner.fit()
        wall = time.perf_counter() - t0
        if grid.num_errors or len(grid) != trials:
            raise SystemExit(f"ray tune: {len(grid)} trials, {grid.num_errors} errors")
        began = sorted(r.metrics["began"] for r in grid)
        gaps = [b - a for a, b in zip(began, began[1:])]
        found["reuse" if reuse else "default"] = {
            "wall": wall, "best": grid.get_best_result().metrics["obj"],
            "gap": sorted(gaps)[len(gaps) // 2],
        }
    ray.shutdown()
    print(json.dumps(found))
    """
)


def tune_python(venv: Path) -> Path:
    """The Ray venv's Python (bench_jobs creates it with ray[default]), with ray[tune] added."""
    from bench_jobs import ray_python

    python = ray_python(venv)
    check = subprocess.run([str(python), "-c", "import ray.tune"], capture_output=True)
    if check.returncode != 0:
        print(f"Adding ray[tune] to {venv} (first use only) ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "ray[default,tune]"], check=True)
    return python


def ray_side(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))  # bench_jobs: the Ray venv, its environment, ending by PID
    from bench_jobs import ray_env, stop_ray

    python = tune_python(Path(args.ray_venv))
    script = folder / "ray_tune_driver.py"
    script.write_text(RAY_TUNE_DRIVER)
    (folder / "results").mkdir(exist_ok=True)
    out, err = folder / "ray-tune.out", folder / "ray-tune.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(python), str(script), str(args.trials), str(folder), str(SEED)],
            stdout=stdout,
            stderr=stderr,
            env=ray_env(python),
            cwd=folder,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            ended = stop_ray(proc)  # its session: the driver and what ray.init left behind
    print(f"Ray Tune's session ended: {ended} process(es) left were ended by PID")
    if code != 0:
        tail = err.read_text(errors="replace")[-3000:]
        raise RuntimeError(
            f"the Ray Tune script {'timed out' if code is None else f'exited {code}'}:\n{tail}"
        )
    found: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
    return found


# ----- the run ---------------------------------------------------------------------------------
def main() -> int:
    global STEP_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="trivial trials per side (default 40)")
    parser.add_argument("--optuna-repeats", type=int, default=5, help="Optuna runs per storage (default 5)")
    parser.add_argument("--asha-trials", type=int, default=30, help="simulator trials per sweep (default 30)")
    parser.add_argument(
        "--step-seconds", type=float, default=0.1, help="simulator sleep per step (default 0.1)"
    )
    parser.add_argument(
        "--ray-venv", default=str(REPO / ".venv-ray"), help="venv for Ray (default .venv-ray)"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip Ray Tune")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    STEP_SECONDS = args.step_seconds
    os.environ.pop("MLWS_WORKSPACE", None)
    os.environ.pop("MLWS_TOKEN", None)
    sys.path.insert(0, str(REPO))
    began = time.monotonic()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found: dict[str, Any] = {"objective": objective_seconds(), "floor": process_floor()}
    ray_missing = "skipped (--no-ray)" if args.no_ray else ""
    with tempfile.TemporaryDirectory(prefix="mlws-bench-sweeps-") as tmp:
        folder = Path(tmp)
        print(
            f"Optuna alone: {args.trials} trials x {args.optuna_repeats}, memory and SQLite ...", flush=True
        )
        memory, sqlite = [], []
        for i in range(args.optuna_repeats):
            memory.append(optuna_overhead(args.trials, None))
            sqlite.append(optuna_overhead(args.trials, f"sqlite:///{folder / f'optuna-{i}.db'}"))
        found["optuna"] = {
            "memory": statistics.median(t for t, _ in memory),
            "sqlite": statistics.median(t for t, _ in sqlite),
            "sqlite_create": statistics.median(c for _, c in sqlite),
        }
        print("Optuna alone: the simulator with and without ASHA ...", flush=True)
        found["optuna_full"] = optuna_asha(args.asha_trials, prune=False)
        found["optuna_asha"] = optuna_asha(args.asha_trials, prune=True)
        found["ours"] = run_ours(folder / "ws", args)
        found["ray"] = None
        if not args.no_ray:
            print(
                f"Ray Tune: {args.trials} trials, 1 at a time (reuse_actors False, then True) ...", flush=True
            )
            (folder / "raytune").mkdir()
            try:
                found["ray"] = ray_side(args, folder / "raytune")
            except Exception as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                ray_missing = f"not measured: {first[:300]}"
                print(f"Ray Tune not measured: {err}", file=sys.stderr)
    text, verdicts = report(args, found, ray_missing, time.monotonic() - began)
    print(text)
    for line in verdicts:
        print(line)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


def report(
    args: argparse.Namespace, found: dict[str, Any], ray_missing: str, total: float
) -> tuple[str, list[str]]:
    """The RESULTS.md section and the pass/fail lines."""
    import distributed
    import optuna

    n = args.trials
    obj = found["objective"]
    ours = found["ours"]
    c1, c2, cold = ours["c1"], ours["c2"], ours["cold"]

    def over(wall: float, count: int = n) -> float:
        return (wall - count * obj) / count

    o1 = over(c1["wall"])
    o2 = over(c2["wall"])
    o_cold = over(cold["wall"])
    mem = over(found["optuna"]["memory"])
    sql = over(found["optuna"]["sqlite"])
    ray = found["ray"]
    ray_o = over(ray["default"]["wall"]) if ray else None
    ray_r = over(ray["reuse"]["wall"]) if ray else None
    floor = found["floor"]
    full, asha = ours["full"], ours["asha"]
    ofull, oasha = found["optuna_full"], found["optuna_asha"]
    gap = (full["best"] - asha["best"]) / abs(full["best"])
    ogap = (ofull["best"] - oasha["best"]) / abs(ofull["best"])
    finals = sorted((curve(lr, w, STEPS, noise=False) for lr, w in full["configs"]), reverse=True)
    rank = 1 + sum(1 for v in finals if v > curve(*asha["best_config"], STEPS, noise=False) + 1e-12)
    same = full["configs"] == asha["configs"] == sorted(ofull["configs"]) == sorted(oasha["configs"])
    none = "not measured" if ray_missing else "n/a"

    def times(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b > 0 else ""

    where = (
        f"per trial (medians): previous trial's end → next trial started {ms(c1['end_to_next'])} (the "
        "end reaches the driver, which tells Optuna, logs the best so far, asks, writes the next run "
        f"and job), started → the objective logged {ms(c1['claim_to_logged'])} (the call reaches the "
        "warm process on its node, which makes the run active and calls the function), logged → job "
        f"ended {ms(c1['logged_to_end'])} (the point flushed, the node ends the run and job); the "
        f"sweep's warm process started once: sweep queued → first trial started "
        f"{ms(c1['first_claim'] - c1['call'])} ({ms((c1['first_claim'] - c1['call']) / n)} a trial)"
    )
    cold_where = (
        f"a job in the queue and a process per trial: previous trial's end → next trial queued "
        f"{ms(cold['end_to_next'])}, queue → node's claim {ms(cold['queue_to_claim'])}, claim → job "
        f"ended {ms(cold['claim_to_end'])} (claim → the objective logged {ms(cold['claim_to_logged'])}: "
        "the node readies the job's folder, starts the child process, which imports jupyter_mlws, "
        "loads the function and calls it); floor here: "
        f"`python -c pass` {ms(floor['pass'])}, `python -c 'import jupyter_mlws'` {ms(floor['import'])}"
    )
    rows = [
        (
            "overhead per trial vs Optuna in-memory (1 at a time)",
            ms(o1),
            ms(mem),
            f"{(o1 - mem) * 1000:+.1f} ms",
            "≤ 5 ms over Optuna in-memory",
            f"{'met' if o1 - mem <= 0.005 else 'MISSED'}: each of our trials is a job and a run, on a "
            f"warm process on a Dask worker; {where}",
        ),
        (
            "ours with `reuse_processes=False` (1 at a time)",
            ms(o_cold),
            ms(mem),
            f"{o_cold / o1:.1f}x ours warm",
            "",
            cold_where,
        ),
        (
            "overhead per trial vs Optuna on SQLite (1 at a time)",
            ms(o1),
            ms(sql),
            f"Optuna's / ours {times(sql, o1)}",
            "ours ≥ 5x less",
            f"{'met' if sql / o1 >= 5 else 'MISSED'}: ours writes a run and a job per trial and calls "
            f"a process on a node (row above), Optuna its SQLite writes in this process; median of "
            f"{args.optuna_repeats} runs, a new file each; "
            f"`create_study` (the schema) is {ms(found['optuna']['sqlite_create'])} of Optuna's "
            f"{n}-trial wall",
        ),
        (
            "overhead per trial vs Ray Tune, local (1 at a time)",
            ms(o1),
            ms(ray_o) if ray else none,
            f"Ray's / ours {times(ray_o, o1)}" if ray else "",
            "ours ≥ 5x less",
            (
                f"{'met' if ray_o / o1 >= 5 else 'MISSED'}: Ray {ray['version']} defaults "
                f"(`reuse_actors=False`, an actor per trial), start to start {ms(ray['default']['gap'])} "
                f"(median); `ray.init` {ms(ray['init'])} not counted (our cluster start is not either)"
            )
            if ray
            else ray_missing,
        ),
        (
            "Ray Tune with `reuse_actors=True` (1 at a time)",
            ms(o1),
            ms(ray_r) if ray else none,
            f"Ray's / ours {times(ray_r, o1)}" if ray else "",
            "",
            f"start to start {ms(ray['reuse']['gap'])} (median); not Ray's default" if ray else ray_missing,
        ),
        (
            "throughput, `max_concurrent_trials=2`",
            f"{n / c2['wall']:.2f} trials/s ({ms(o2)} a trial)",
            "",
            f"{c1['wall'] / c2['wall']:.2f}x ours at 1",
            "",
            f"{n} trials in {c2['wall']:.1f} s on 2 one-CPU nodes (2 cores here); at 1: {c1['wall']:.1f} s; "
            f"claim → job ended {ms(c2['claim_to_end'])} (median)",
        ),
        (
            "ASHA: budget used (% of the full budget)",
            f"{asha['budget'] * 100:.1f} %",
            f"{oasha['budget'] * 100:.1f} % (Optuna alone)",
            "",
            "≤ 30 %",
            f"{'met' if asha['budget'] <= 0.30 else 'MISSED'}: ours {asha['points']} of "
            f"{STEPS * args.asha_trials} points ({asha['statuses']}), 2 at a time, of which "
            f"{asha['late']} logged by stopped trials after the step at which ASHA stopped them (the "
            "log's 0.1 s flush, the driver's 0.2 s read, the cancel), "
            f"{(asha['points'] - asha['late']) / (STEPS * args.asha_trials) * 100:.1f} % without them; "
            f"{asha['wall']:.1f} s against {full['wall']:.1f} s without; Optuna alone 1 at a time, "
            "deciding at every step before the next",
        ),
        (
            "ASHA: best found vs no early termination",
            f"{gap * 100:+.1f} % ({asha['best']:.4f} vs {full['best']:.4f})",
            f"{ogap * 100:+.1f} % ({oasha['best']:.4f} vs {ofull['best']:.4f}; Optuna alone)",
            "",
            "within 10 %",
            f"{'met' if gap <= 0.10 else 'MISSED'}: gap = (best without - best with ASHA) / best without; "
            f"ASHA's best config is #{rank} of {args.asha_trials} by noise-free final; the same "
            f"{args.asha_trials} configs in all four sweeps: {'yes' if same else 'no'}",
        ),
    ]
    verdicts = []

    def verdict(ok: bool, what: str) -> None:
        verdicts.append(f"{'PASS' if ok else 'FAIL'}  {what}")

    verdict(
        o1 - mem <= 0.005, f"ours {ms(o1)} - Optuna in-memory {ms(mem)} = {(o1 - mem) * 1000:+.1f} ms ≤ 5 ms"
    )
    verdict(sql / o1 >= 5, f"Optuna on SQLite {ms(sql)} / ours {ms(o1)} = {sql / o1:.2f}x ≥ 5x")
    if ray:
        verdict(ray_o / o1 >= 5, f"Ray Tune {ms(ray_o)} / ours {ms(o1)} = {ray_o / o1:.2f}x ≥ 5x")
    else:
        verdicts.append(f"----  ≥ 5x less than Ray Tune: {ray_missing}")
    verdict(asha["budget"] <= 0.30, f"ASHA used {asha['budget'] * 100:.1f} % of the full budget ≤ 30 %")
    verdict(
        gap <= 0.10, f"ASHA's best {asha['best']:.4f} is {gap * 100:+.1f} % below the unpruned best ≤ 10 %"
    )

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = f"Python {platform.python_version()}, Optuna {optuna.__version__}"
    versions += f", distributed {distributed.__version__}"
    if ray:
        versions += f", Ray {ray['version']}"
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    text = (
        f"\n## Sweeps: overhead per trial and ASHA — {when}\n\nMachine: {platform.system()} "
        f"{platform.release()} {platform.machine()}, {os.cpu_count()} CPUs (load average "
        f"{os.getloadavg()[0]:.1f} at the end); {versions}; total {total:.0f} s.\n\n"
        "| work | jupyter_mlws | peer | ratio | target | note |\n|---|---|---|---|---|---|\n"
        + table
        + "\n\nTargets:\n\n"
        + "".join(f"- {line}\n" for line in verdicts)
        + f"\n(Overhead per trial = (wall of {n} trials - {n} x the objective's own time, "
        f"{obj * 1e6:.2f} µs) / {n}, the same trivial objective and seeded random sampling on every "
        "side; each side's whole sweep timed with its compute already up: ours from `ws.jobs.sweep` "
        "to the sweep job's end on a folder workspace whose LocalCluster (2 one-CPU nodes) was warmed "
        f"by a 2-trial sweep ({found['ours']['warmup']:.1f} s); Optuna `create_study` + `optimize` in "
        "this process; Ray Tune `Tuner(...).fit()` after `ray.init`, in `.venv-ray`, after our "
        f"cluster stopped. Ours at 1: `sweep()` call {ms(c1['call'])}, sweep queued → first trial "
        f"started {ms(c1['first_claim'] - c1['call'])}, last trial ended → sweep ended {ms(c1['tail'])}. "
        f"ASHA: `ASHA(min_resource=1, reduction_factor=3)` (Optuna's SuccessiveHalvingPruner), "
        f"{args.asha_trials} trials of {STEPS} steps, {args.step_seconds:g} s a step, on the "
        "learning-curve simulator of the module docstring; budget = points logged / "
        f"({STEPS} x trials); best = the best last value of a completed trial.)\n"
    )
    return text, verdicts


if __name__ == "__main__":
    sys.exit(main())
