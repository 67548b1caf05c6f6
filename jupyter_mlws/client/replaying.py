"""`run.replay()`: re-execute a run in a fresh kernel, compare cell by cell, record a child run.

Who calls it: `Run.replay` (client/run.py); ``%mlws replay RUN`` and ``POST /runs/{id}/replay`` call
`Run.replay`. The engine (what to replay, running it, comparing outputs) is `repro/replay.py`; this
module adds the workspace's record of it:

- a child run of the replayed run, ``source_kind`` ``replay``, named ``replay of <name>``, in the
  same experiment, tagged ``mlws.replay.of`` (the run), ``mlws.replay.verdict`` (``reproduced`` or
  ``diverged``), ``mlws.replay.first_diverging_cell`` and ``mlws.replay.cause`` when there are;
  what the replayed cells log lands in it (a replayed ``%%mlrun`` cell's run is its child);
- its ``replay/report.json`` (every cell's outcome, the metrics, the environment difference) and
  its log (the summary), and it ends ``completed`` whatever the verdict (the verdict is a finding,
  not a failure); ``failed`` only when the replay itself could not run;
- metrics: each final metric of the run against the replay's (the replay run's own, and those of
  the run the replayed cell of the run made, found by the execution count it ran as), within the
  comparison's relative tolerance;
- the environment difference: the run's ``environment.json`` against this process's environment
  (the replay kernel's, when it is the same interpreter), as in `mlws.diff`, less the host and the
  git state (a replay runs elsewhere, from the snapshot, by design).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from ..repro import replay as engine
from ..repro.compare import REL_TOL

if TYPE_CHECKING:
    from .run import Run

__all__ = ["replay_run"]

TAG_OF = "mlws.replay.of"
TAG_VERDICT = "mlws.replay.verdict"
TAG_FIRST = "mlws.replay.first_diverging_cell"
TAG_CAUSE = "mlws.replay.cause"
REPORT = "replay/report.json"
#: How long the replay waits for the runs its cells made to end (their kernel writes them last).
CHILDREN_SECONDS = 30.0


def _same(a: float, b: float, rel_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)


def _replayed_metrics(run: Run, replay: Run, own_count: int | None) -> dict[str, float]:
    """The replay's final metrics: its own, then those of the run its replayed `%%mlrun` cell made
    (found by the execution count that cell ran as in the replay kernel), the latest winning."""
    store = run.workspace.store
    deadline = time.monotonic() + CHILDREN_SECONDS
    running = f"parent_run_id = '{replay.id}' and status = 'running'"
    while store.search_runs(None, running, None, 1).runs and time.monotonic() < deadline:
        time.sleep(0.1)  # a replayed %%mlrun cell's run ends on its kernel's finalizer thread
    found = dict(store.get_run(replay.id).data.metrics)
    if own_count is None:
        return found
    table = store.search_runs(None, f"parent_run_id = '{replay.id}'", ["start_time asc"], 1000)
    counts = table.tags.get("mlws.execution_count") or [None] * len(table.runs)
    for number in range(len(table.runs)):
        if counts[number] == str(own_count):
            for key, values in table.metrics.items():
                if values[number] is not None:
                    found[key] = values[number]
    return found


#: What is expected to differ on a replay: it runs elsewhere, in a temporary folder, by design.
_MOVED = ("host", "git.")


def _environment_changes(run: Run) -> list[dict[str, Any]]:
    from ..repro.diff import ENVIRONMENT, _environment_rows
    from .environment import capture_environment

    try:
        with run.workspace.artifact_store.open(run.id, ENVIRONMENT) as handle:
            recorded = json.loads(handle.read())
    except Exception:
        return []
    rows = _environment_rows(recorded, capture_environment())
    return [row for row in rows if not str(row["item"]).startswith(_MOVED)]


def replay_run(
    run: Run, kernel: str | None = None, timeout: float | None = 600, rel_tol: float = REL_TOL
) -> Any:
    """Replay `run` (see the module docstring); returns a `repro.replay.Replay` with `.run` set."""
    if not (isinstance(rel_tol, (int, float)) and 0 <= rel_tol < 1):
        raise InvalidParameter(f"rel_tol is a relative tolerance from 0 to 1, not {rel_tol!r}.")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise InvalidParameter(f"timeout is a number of seconds per cell above 0 (or None), not {timeout!r}.")
    ws = run.workspace
    ws.settle(run.id)
    ws.flush()
    engine.check_target(kernel)
    record = ws.store.get_run(run.id)
    plan = engine.plan_for(ws.store, ws.artifact_store, run.id, record)
    if not plan.steps:
        raise InvalidParameter(f"Run {run.id} has no cells to replay.")
    experiment = ws.store.get_experiment(record.info.experiment_id).name
    child = ws.start_run(
        experiment,
        f"replay of {record.info.name or run.id}"[:250],
        tags={TAG_OF: run.id, "mlws.replay.kind": plan.kind},
        parent=run.id,
        source_kind="replay",
    )
    started = time.perf_counter()
    folder = engine.restore_folder(ws.artifact_store, run.id, plan.has_snapshot)
    env = {"MLWS_WORKSPACE": str(ws.location.workspace), "MLWS_RUN_ID": child.id}
    if plan.notebook_name:
        env["JPY_SESSION_NAME"] = str(folder / plan.notebook_name)
    try:
        outputs = engine.execute(plan, folder, env, kernel=kernel, timeout=timeout)
    except BaseException as err:
        child.end("failed", f"the replay could not run: {type(err).__name__}: {err}"[:1000])
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    outcomes = engine.compare_steps(plan, outputs, rel_tol)
    ws.settle()
    ws.flush()
    recorded_metrics = dict(record.data.metrics)
    own = next((n for n, step in enumerate(plan.steps, 1) if step.own), None)
    # the replay kernel runs a setup cell first: step n runs as In[n + 1]
    replayed = _replayed_metrics(run, child, own + 1 if own is not None else None)
    metrics = [
        {
            "key": key,
            "recorded": value,
            "replayed": replayed.get(key),
            "same": key in replayed and _same(float(value), float(replayed[key]), rel_tol),
        }
        for key, value in sorted(recorded_metrics.items())
    ]
    first = next((c for c in outcomes if c.status in ("different", "error")), None)
    if first is None and any(not m["same"] for m in metrics):
        first = next((c for c in reversed(outcomes) if plan.steps[c.position - 1].own), outcomes[-1])
        differ = ", ".join(m["key"] for m in metrics if not m["same"])
        first.status, first.detail = "different", f"the run's metrics differ: {differ}"
    verdict = "reproduced" if first is None else "diverged"
    cause = engine.unseeded_randomness(plan.steps, first.position) if first is not None else None
    result = engine.Replay(
        run.id,
        verdict,
        first.key if first else None,
        outcomes,
        metrics,
        _environment_changes(run),
        cause,
        time.perf_counter() - started,
        child,
    )
    tags = {TAG_VERDICT: verdict}
    if first is not None:
        tags[TAG_FIRST] = first.key
    if cause:
        tags[TAG_CAUSE] = cause[:5000]
    child.set_tags(tags)
    child.log_text(json.dumps(result.to_dict(), indent=1, default=str), REPORT)
    child.log_output(result.summary() + "\n")
    child.end("completed")
    return result
