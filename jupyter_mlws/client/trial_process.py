"""A sweep's warm trial process: `python -m jupyter_mlws.client.trial_process FOLDER` (issue 18).

Who runs it: `jobs/trial_host.py`, on a node, once per sweep and slot, in a folder that holds the
sweep's code snapshot, inputs and `job/payload.pkl` (the trial function, pickled once at submit).
It imports jupyter_mlws and loads the function once, then runs trial after trial, as Optuna's
`optimize`, a W&B agent running a function and Ray Tune with `reuse_actors=True` do:

- stdin gives one JSON line per trial: `{"n": N, "run_id": ..., "kwargs": {...}}`;
- the trial's run is the active run (`$MLWS_RUN_ID`), `outputs/` is emptied, the function is called
  with the trial's values as keyword arguments; what it logged is flushed to the store before the
  answer; a return value other than None is written to `job/result.pkl`;
- the end of each trial's output is marked on stdout and stderr (`trial_host.MARK`), so the host
  files every line under the right trial; then the answer goes to the host on the file descriptor
  `$MLWS_TRIAL_REPLY_FD`: `{"n": N, "ok": true}` or `{"n": N, "ok": false, "error": "..."}`.

It lives in `client` (the host in `jobs` starts it by name): it is where the user's code runs, with
the active run of the fluent API (`client/fluent.py`) switched from trial to trial.

`--spare EMPTY_FOLDER` instead of FOLDER: started ahead of need by a worker (`trial_host._start_spare`), it
imports what a trial needs, then waits for one line `{"folder": ..., "env": {...}}` (the trial
environment replaces its own) and goes on as above.

It exits when stdin closes (the sweep is done with it) or when the worker that started it dies. A
trial the sweep's policy stops, or whose job is canceled, ends with this process killed; the next
trial gets a new one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from pathlib import Path

from ..jobs.trial_host import MARK, REPLY_FD_ENV


def main(argv: list[str]) -> int:
    reply = os.fdopen(int(os.environ[REPLY_FD_ENV]), "w", buffering=1)
    import cloudpickle

    from . import fluent
    from .workspace import RUN_ID_ENV

    if argv[0] == "--spare":  # started ahead of need: the first line names the folder and environment
        import jupyter_mlws.store.factory  # noqa: F401  (what opening the store imports, now)

        started_in = argv[1]  # an empty folder, removed once this process is taken
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        given = json.loads(line)
        os.environ.clear()
        os.environ.update(given["env"])
        folder = Path(given["folder"])
        sys.path[:] = [p for p in sys.path if p not in ("", started_in)]
        shutil.rmtree(started_in, ignore_errors=True)
    else:
        folder = Path(argv[0])
    os.chdir(folder)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the code snapshot imports as in a job's process

    with open(folder / "job" / "payload.pkl", "rb") as handle:
        payload = cloudpickle.load(handle)
    function = payload["function"]
    fixed_args = tuple(payload.get("args", ()))
    fixed_kwargs = dict(payload.get("kwargs") or {})
    fluent.default_workspace()  # the store opened before the first trial, not in its time
    reply.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        order = json.loads(line)
        answer: dict[str, object] = {"n": order["n"], "ok": True}
        os.environ[RUN_ID_ENV] = order["run_id"]
        outputs = folder / "outputs"
        shutil.rmtree(outputs, ignore_errors=True)
        outputs.mkdir()
        result_file = folder / "job" / "result.pkl"
        result_file.unlink(missing_ok=True)
        try:
            result = function(*fixed_args, **{**fixed_kwargs, **order["kwargs"]})
            if result is not None:
                with open(result_file, "wb") as handle:
                    cloudpickle.dump(result, handle)
        except BaseException as err:  # the user's code failed: say so, as a job's process would
            traceback.print_exc()
            answer = {"n": order["n"], "ok": False, "error": f"{type(err).__name__}: {err}"}
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                answer["exit"] = True
        try:
            run = fluent._attached.pop(order["run_id"], None)
            if run is not None:
                run.flush()
            else:
                fluent.default_workspace().logger.flush()
        except Exception as err:  # e.g. the run was ended meanwhile: the trial says so
            print(f"jupyter_mlws: the trial's points were not all delivered: {err}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, MARK)
        os.write(2, MARK)
        reply.write(json.dumps(answer) + "\n")
        if answer.get("exit"):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
