"""`GET /mlws/api/v1/runs/{run_id}/diff/{other_id}`: what run `other_id` did differently.

The same comparison as `ws.diff(run_id, other_id)` (repro/diff.py), as JSON: every part as a list of
rows, changed images as base64 pairs, notes for parts a run lacks. It reads code, notebooks, logs and
artifacts, so it is authorized as reading artifacts (`mlws:artifacts`), not only runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ...repro.diff import PARTS, diff_runs
from .base import MLWSHandler, route


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
