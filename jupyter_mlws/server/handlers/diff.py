"""Reproducibility routes: compare two runs, replay one.

- `GET /mlws/api/v1/runs/{run_id}/diff/{other_id}`: what run `other_id` did differently; the same
  comparison as `ws.diff(run_id, other_id)` (repro/diff.py), as JSON: every part as a list of rows,
  changed images as base64 pairs, notes for parts a run lacks. It reads code, notebooks, logs and
  artifacts, so it is authorized as reading artifacts (`mlws:artifacts`), not only runs.
- `POST /mlws/api/v1/runs/{run_id}/replay`: start `run.replay()` (client/replaying.py) for the run
  view's Replay button and answer 202 at once. A replay starts a kernel and may take minutes, so it
  runs as its own process (``python -m jupyter_mlws.cli replay RUN``, with this server's workspace in
  its environment, its output in the server's log folder), never on the server's threads; its
  outcome is the child run of kind ``replay`` it records, which the run view follows. Writing a run
  (`mlws:runs`, write) is not enough: a replay runs the run's stored code in a kernel on this
  server, so it also needs what starting code in a kernel needs, jupyter_server's `execute` on
  `kernels` (RELIABILITY S1's rule: storing something is not running it). The default authorizer
  grants both to whoever holds the server's token; a shared server's authorizer decides who else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

from jupyter_core.utils import ensure_async
from pydantic import BaseModel, ConfigDict, Field

from ...errors import Forbidden
from ...repro.diff import PARTS, diff_runs
from .base import MLWSHandler, route

#: Replays this server started: (run id, process), so a second press does not start a second one.
_replays: dict[str, subprocess.Popen[bytes]] = {}


class RunDiffModel(BaseModel):
    run_a: str
    run_b: str
    identical: bool
    parts: dict[str, list[dict[str, Any]]] = Field(
        description=f"One list of rows per part: {', '.join(PARTS)}; only the rows that differ "
        "(history: every cell that ran, with change 'same' where it is)."
    )
    images: list[dict[str, Any]] = Field(description="Changed images: cell_id, mime, a, b (base64 or null).")
    notes: list[str] = Field(description="Parts a run lacks (no snapshot, no environment).")


class RunDiffHandler(MLWSHandler):
    auth_resource = "mlws:artifacts"

    @route("Compare two runs", response=RunDiffModel, errors=(403, 404), tags=("runs",))
    async def get(self, run_id: str, other_id: str) -> None:
        services = self.services
        diff = await services.run(diff_runs, services.store, services.artifacts, run_id, other_id)
        self.write_model(RunDiffModel.model_validate(diff.to_dict()))


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kernel: str | None = Field(
        None, description="Kernelspec to replay in; the run's (or python3) by default."
    )
    timeout: float = Field(600, gt=0, le=86_400, description="Seconds per cell.")


class ReplayStarted(BaseModel):
    run_id: str
    pid: int = Field(description="The replay's process.")
    log: str = Field(description="Where its output goes.")


class RunReplayHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route(
        "Replay a run in a fresh kernel (the outcome is a child run of kind replay)",
        body=ReplayRequest,
        response=ReplayStarted,
        status=202,
        errors=(400, 403, 404, 409),
        tags=("runs",),
    )
    async def post(self, run_id: str) -> None:
        from ...errors import Conflict

        user = self.current_user
        may_run = bool(user) and await ensure_async(
            self.authorizer.is_authorized(self, user, "execute", "kernels")
        )
        if not may_run:
            raise Forbidden(
                "A replay runs the run's code in a kernel on this server; that needs the permission to "
                "execute code in kernels ('kernels', execute), which this user does not have."
            )
        request = self.parse_body(ReplayRequest)
        await self.services.run(self.services.store.get_run_info, run_id)  # NotFound: 404
        for finished in [rid for rid, p in _replays.items() if p.poll() is not None]:
            del _replays[finished]  # reaped
        running = _replays.get(run_id)
        if running is not None and running.poll() is None:
            raise Conflict(f"Run {run_id} is being replayed already (process {running.pid}).")
        argv = [sys.executable, "-m", "jupyter_mlws.cli", "replay", run_id, "--timeout", str(request.timeout)]
        if request.kernel:
            argv += ["--kernel", request.kernel]
        folder = os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()
        log_path = os.path.join(folder, f"mlws-replay-{run_id}.log")
        env = {**os.environ, **self.services.kernel_env}
        env.pop("MLWS_RUN_ID", None)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        _replays[run_id] = process
        self.write_model(ReplayStarted(run_id=run_id, pid=process.pid, log=log_path), status=202)
