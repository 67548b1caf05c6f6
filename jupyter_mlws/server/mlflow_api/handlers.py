"""The MLflow RPC routes: one handler that finds the operation for (method, path) and runs it.

`/mlws/mlflow/api/2.0/mlflow/<path>` (and `ajax-api`, and `3.0` where MLflow has it) is looked up
in the operation tables of `tracking.py`, `logged_models.py` and `registry.py`: first by the exact
path, then by the path patterns with ids in them (`logged-models/{model_id}/tags`). Anything else
under `/mlws/mlflow/` is MLflow's `ENDPOINT_NOT_FOUND` (404) — as MLflow's own server answers an
unknown path — and a known path with the wrong method is the same, as MLflow's Flask routes do.
"""

from __future__ import annotations

import re
from typing import Any

from ..handlers.base import route
from . import artifacts, logged_models, registry, tracking
from .base import MLflowError, MLflowHandler

_EXACT: dict[tuple[str, str], Any] = {
    **tracking.OPERATIONS,
    ("GET", "artifacts/list"): artifacts.list_artifacts,
    **logged_models.OPERATIONS,
    **registry.OPERATIONS,
}
_PATTERNS: list[tuple[str, re.Pattern[str], Any]] = [
    (method, re.compile(pattern), operation)
    for (method, pattern), operation in logged_models.PATTERNS.items()
]


def find(method: str, path: str) -> tuple[Any, dict[str, str]]:
    """The operation for `method` and `path` (after `mlflow/`), with the ids the path holds."""
    operation = _EXACT.get((method, path))
    if operation is not None:
        return operation, {}
    for wanted, pattern, operation in _PATTERNS:
        found = pattern.fullmatch(path)
        if found and wanted == method:
            return operation, found.groupdict()
    raise MLflowError("ENDPOINT_NOT_FOUND", f"No MLflow endpoint {method} {path[:200]!r} on this server.")


class MLflowRPCHandler(MLflowHandler):
    """`/mlws/mlflow/{api,ajax-api}/{2.0,3.0}/mlflow/<path>`: MLflow's tracking and registry calls."""

    async def _call(self, path: str) -> None:
        operation, ids = find(self.request.method or "GET", path)
        fields = self.fields()
        fields.update(ids)
        # an operation that copies files (registry model-version create) also gets the artifact store
        more = (self.services.artifacts,) if getattr(operation, "needs_artifacts", False) else ()
        answer = await self.services.run(operation, self.services.store, fields, *more)
        self.reply(answer)

    @route("MLflow REST API: read calls", tags=("mlflow",))
    async def get(self, path: str) -> None:
        await self._call(path)

    @route("MLflow REST API: calls that write", tags=("mlflow",))
    async def post(self, path: str) -> None:
        await self._call(path)

    @route("MLflow REST API: updates", tags=("mlflow",))
    async def patch(self, path: str) -> None:
        await self._call(path)

    @route("MLflow REST API: deletes", tags=("mlflow",))
    async def delete(self, path: str) -> None:
        await self._call(path)


class MLflowUnknownHandler(MLflowHandler):
    """Anything else under `/mlws/mlflow/`: MLflow's ENDPOINT_NOT_FOUND."""

    needs_store = False

    def _refuse(self, path: str) -> None:
        raise MLflowError("ENDPOINT_NOT_FOUND", f"No MLflow endpoint at {path[:200]!r} on this server.")

    @route("MLflow REST API: unknown paths", tags=("mlflow",))
    async def get(self, path: str) -> None:
        self._refuse(path)

    @route("MLflow REST API: unknown paths", tags=("mlflow",))
    async def post(self, path: str) -> None:
        self._refuse(path)

    @route("MLflow REST API: unknown paths", tags=("mlflow",))
    async def put(self, path: str) -> None:
        self._refuse(path)

    @route("MLflow REST API: unknown paths", tags=("mlflow",))
    async def patch(self, path: str) -> None:
        self._refuse(path)

    @route("MLflow REST API: unknown paths", tags=("mlflow",))
    async def delete(self, path: str) -> None:
        self._refuse(path)
