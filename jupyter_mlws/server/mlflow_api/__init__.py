"""The MLflow REST API under the Jupyter server: the stock `mlflow` client logs into the workspace.

Point existing MLflow code at it with `MLFLOW_TRACKING_URI=http://<host>:<port><base_url>mlws/mlflow`
and `MLFLOW_TRACKING_TOKEN=<the Jupyter token>` (MLflow's client sends it as a bearer token, which
jupyter_server accepts like its own `token` header). Every route is authenticated and authorized
like the rest of the extension (resource `mlws:mlflow`); `docs/mlflow.md` lists what is covered.

Layout: `base.py` (MLflow's request fields and error JSON), `convert.py` (our records in MLflow's
shapes), `tracking.py` (experiments, runs, metrics, inputs/outputs), `logged_models.py` (MLflow 3's
logged models), `registry.py` (registered models and versions), `artifacts.py` (the
`mlflow-artifacts` proxy), `multipart.py` (its multipart uploads), `handlers.py` (the RPC
route and ENDPOINT_NOT_FOUND for the rest).
"""

from __future__ import annotations

from typing import Any

MLFLOW_PREFIX = "/mlws/mlflow"


def mlflow_routes() -> list[tuple[str, type[Any]]]:
    """The (pattern, handler) pairs of the MLflow API; the ExtensionApp prefixes the base URL."""
    from .artifacts import MLflowArtifactHandler, MLflowArtifactListHandler
    from .handlers import MLflowRPCHandler, MLflowUnknownHandler
    from .multipart import MLflowMultipartHandler, MLflowUploadPartHandler

    api = f"{MLFLOW_PREFIX}/(?:api|ajax-api)/[23]\\.0"
    return [
        (f"{api}/mlflow/(?P<path>.+)", MLflowRPCHandler),
        (f"{api}/mlflow-artifacts/artifacts/?", MLflowArtifactListHandler),
        (f"{api}/mlflow-artifacts/mpu/part/(?P<upload_id>[^/]+)/(?P<part>[^/]+)", MLflowUploadPartHandler),
        (f"{api}/mlflow-artifacts/mpu/(?P<action>[^/]+)/(?P<path>.+)", MLflowMultipartHandler),
        (f"{api}/mlflow-artifacts/artifacts/(?P<path>.+)", MLflowArtifactHandler),
        (f"{MLFLOW_PREFIX}/(?P<path>.*)", MLflowUnknownHandler),
    ]
