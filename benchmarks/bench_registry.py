"""Model registry benchmark (issue 8): registering a version of a small scikit-learn model, ours vs MLflow.

Run: `python benchmarks/bench_registry.py [--rounds 20] [--no-write]`.

The same fitted pipeline (StandardScaler + LogisticRegression, 3 features, 200 rows) is registered
`--rounds` times by each side, in this one process, after one untimed warm-up each (imports, our
first package scan, MLflow's first database connection). Each round registers *new bytes* (the
model is refitted with a different C beforehand, outside the timing), so neither side gets a
content-addressed shortcut; a last row shows ours re-registering bytes already stored.

- ours: `save_sklearn(model, path)` (skops) + `ws.models.register(name, path, example=X[:5])` on a
  folder workspace (SQLite + local artifact store) in a temp folder; the environment is this
  process's (captured once, reused while packages do not change).
- MLflow: inside one `mlflow.start_run()` against `sqlite:///<tmp>/mlflow.db` with artifacts in the
  temp folder: `mlflow.sklearn.log_model(model, name=..., serialization_format="skops",
  signature=infer_signature(X[:5]))` + `mlflow.register_model(info.model_uri, name)`. Both sides save
  skops and infer a signature from the same example. Timed twice: with `pip_requirements` given (the
  like-for-like row: we record the process's packages, which costs nothing once cached) and with
  MLflow's default requirement inference, which loads the model in a subprocess and takes seconds, so
  it gets fewer rounds (`--mlflow-default-rounds`, default 5).

Target (issue 8): ours median ≤ 20 ms. The table is printed and appended to `benchmarks/RESULTS.md`
(unless `--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def models(rounds: int) -> tuple[list[Any], Any]:
    """`rounds + 1` fitted pipelines with different coefficients, and the example input."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (x["a"] + x["b"] > 0).astype(int)
    fitted = [
        make_pipeline(StandardScaler(), LogisticRegression(C=0.5 + i / 10)).fit(x, y)
        for i in range(rounds + 1)
    ]
    return fitted, x.head(5)


def timed(fn: Callable[[int], None], rounds: int) -> list[float]:
    fn(0)  # warm-up
    out = []
    for i in range(1, rounds + 1):
        started = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - started)
    return out


def ours(folder: Path, fitted: list[Any], example: Any, rounds: int) -> dict[str, list[float]]:
    import jupyter_mlws as mlws
    from jupyter_mlws.models import save_sklearn

    ws = mlws.Workspace(folder / "ws")

    def save_and_register(i: int) -> None:
        path = save_sklearn(fitted[i], folder / "models" / str(i) / "model.skops")
        ws.models.register("bench", path, example=example)

    def register_again(i: int) -> None:
        ws.models.register("bench", folder / "models" / str(i) / "model.skops", example=example)

    presaved = [
        save_sklearn(model, folder / "pre" / str(i) / "model.skops")
        for i, model in enumerate(fitted[rounds + 1 :])
    ]

    def register_only(i: int) -> None:
        ws.models.register("bench", presaved[i], example=example)

    try:
        return {
            "new": timed(save_and_register, rounds),
            "again": timed(register_again, rounds),
            "register": timed(register_only, rounds),
        }
    finally:
        ws.close()


def mlflow_side(
    folder: Path, fitted: list[Any], example: Any, rounds: int, slow_rounds: int
) -> dict[str, list[float]]:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(folder / "mlartifacts").as_uri())

    def log_and_register(i: int, **extra: Any) -> None:
        info = mlflow.sklearn.log_model(
            fitted[i],
            name=f"model-{i}-{len(extra)}",
            serialization_format="skops",
            signature=infer_signature(example),
            **extra,
        )
        mlflow.register_model(info.model_uri, "bench")

    requirements = ["scikit-learn", "skops"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mlflow.start_run(experiment_id=experiment):
            given = timed(lambda i: log_and_register(i, pip_requirements=requirements), rounds)
            inferred = timed(log_and_register, slow_rounds)
    return {"given": given, "inferred": inferred}


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=20, help="versions registered by each side (default 20)"
    )
    parser.add_argument(
        "--mlflow-default-rounds",
        type=int,
        default=5,
        help="rounds of MLflow with its default pip-requirement inference (seconds each; default 5)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    os.environ.pop("MLWS_WORKSPACE", None)
    began = time.perf_counter()
    fitted, example = models(2 * args.rounds + 1 + args.mlflow_default_rounds)
    with tempfile.TemporaryDirectory(prefix="mlws-bench-registry-") as tmp:
        mine = ours(Path(tmp) / "ours", fitted, example, args.rounds)
        theirs = mlflow_side(Path(tmp) / "mlflow", fitted, example, args.rounds, args.mlflow_default_rounds)
    import mlflow

    new, again, only = (statistics.median(mine[k]) for k in ("new", "again", "register"))
    given, inferred = statistics.median(theirs["given"]), statistics.median(theirs["inferred"])
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def spread(values: list[float]) -> str:
        return f"{fmt(min(values))} - {fmt(max(values))}"

    total = time.perf_counter() - began
    text = (
        f"\n## Registering a model version - {when}\n\nMachine: {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"MLflow {mlflow.__version__}; load average {os.getloadavg()[0]:.1f} at the end; medians after one "
        f"warm-up each; total {total:.0f} s.\n\n"
        "| work | jupyter_mlws | MLflow | ratio | target | note |\n|---|---|---|---|---|---|\n"
        "| save (skops) + register a new version, signature from a 5-row example | "
        f"{fmt(new)} | {fmt(given)} | {given / new:.1f}x | <= 20 ms | median of {args.rounds}; MLflow given "
        f"`pip_requirements`; ours {spread(mine['new'])}, MLflow {spread(theirs['given'])} |\n"
        "| the same, MLflow inferring pip requirements (its default) | "
        f"{fmt(new)} | {fmt(inferred)} | {inferred / new:.0f}x | | "
        f"MLflow median of {args.mlflow_default_rounds}, {spread(theirs['inferred'])} |\n"
        f"| register only (file saved beforehand, new bytes) | {fmt(only)} | | | <= 20 ms | "
        f"median of {args.rounds}, {spread(mine['register'])} |\n"
        f"| register bytes already stored (content-addressed blobs) | {fmt(again)} | | | <= 20 ms | "
        f"median of {args.rounds}, {spread(mine['again'])} |\n\n"
        '(MLflow = `mlflow.sklearn.log_model(serialization_format="skops", '
        "signature=infer_signature(X[:5]))` + `mlflow.register_model(info.model_uri, name)` in one run, "
        "SQLite tracking + registry, artifacts in the same temp folder. Ours = `save_sklearn` + "
        "`ws.models.register(name, path, example=X[:5])` on a folder workspace; each round new bytes, "
        "so a blob is written and fsynced, then one SQLite transaction.)\n"
    )
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
