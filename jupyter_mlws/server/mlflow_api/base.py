"""The MLflow front door's request and error shapes: MLflow's JSON in, MLflow's JSON out.

Every MLflow route is an `MLflowHandler`: authenticated and authorized like every route of the
extension (`route(...)`, resource `mlws:mlflow`), with MLflow's conventions where ours differ:

- A request's fields come from the query string for GET (the client sends `params=`; a repeated
  key such as `experiment_ids` is a list) and from the JSON body otherwise, DELETE included.
- Errors are MLflow's `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}` with the HTTP
  status MLflow gives that code (`mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS`), so the stock
  client raises the `MlflowException` (and `RestException`) that MLflow users catch. Our own
  errors are translated in one table (`_CODES`); anything unexpected is `INTERNAL_ERROR` with no
  detail (the server log has it).
"""

from __future__ import annotations

import json
from typing import Any

from tornado.web import HTTPError

from ...errors import InvalidParameter, MLWSError
from ...wire import finite_float
from ..handlers.base import MLWSHandler, _exception, _refuse_constant

#: MLflow's error codes and the HTTP status each gets (as MLflow's server answers).
STATUS = {
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "INVALID_STATE": 500,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "NOT_IMPLEMENTED": 501,
}
#: Our error codes (`errors.py`) as MLflow's.
_CODES = {
    "invalid_parameter": "INVALID_PARAMETER_VALUE",
    "not_found": "RESOURCE_DOES_NOT_EXIST",
    "already_exists": "RESOURCE_ALREADY_EXISTS",
    "conflict": "INVALID_PARAMETER_VALUE",
    "run_ended": "INVALID_PARAMETER_VALUE",
    "payload_too_large": "INVALID_PARAMETER_VALUE",
    "unavailable": "TEMPORARILY_UNAVAILABLE",
    "incompatible_store": "TEMPORARILY_UNAVAILABLE",
    "forbidden": "PERMISSION_DENIED",
}
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    413: "INVALID_PARAMETER_VALUE",
    503: "TEMPORARILY_UNAVAILABLE",
}
_INTERNAL = "The ML workspace met an internal error; the server log has the details."


class MLflowError(MLWSError):
    """An error with MLflow's own code (`STATUS` gives its HTTP status)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.mlflow_code = error_code
        self.http_status = STATUS.get(error_code, 500)
        self.code = error_code.lower()


def invalid(message: str) -> MLflowError:
    return MLflowError("INVALID_PARAMETER_VALUE", message)


def missing(message: str) -> MLflowError:
    return MLflowError("RESOURCE_DOES_NOT_EXIST", message)


def mlflow_code(err: MLWSError) -> str:
    """The MLflow error code of one of our errors."""
    return getattr(err, "mlflow_code", None) or _CODES.get(err.code, "INTERNAL_ERROR")


class _Answered(MLflowError):
    """One of our errors with the status MLflow answers its code with (for `send_error`)."""

    def __init__(self, err: MLWSError, status: int) -> None:
        super().__init__(mlflow_code(err), err.message)
        self.http_status = status


class MLflowHandler(MLWSHandler):
    """Base of the MLflow routes: MLflow's request fields and error JSON (module docstring)."""

    auth_resource = "mlws:mlflow"

    def fields(self) -> dict[str, Any]:
        """The request's fields: the query string for GET, else the JSON body ({} when empty)."""
        if self.request.method in ("GET", "HEAD"):
            found: dict[str, Any] = {}
            for name, values in self.request.query_arguments.items():
                decoded = [self.decode_argument(v, name=name) for v in values]
                found[name] = decoded if len(decoded) > 1 else decoded[0]
            return found
        raw = self.body
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw, parse_constant=_refuse_constant, parse_float=finite_float)
        except RecursionError:
            raise invalid("The JSON body nests too deeply.") from None
        except InvalidParameter as err:
            raise invalid(err.message) from None
        except (UnicodeDecodeError, ValueError) as err:
            raise invalid(f"The body is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise invalid("The JSON body must be an object.")
        return data

    def reply(self, answer: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer, allow_nan=False, default=str))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = _exception(kwargs)
        if isinstance(exc, MLWSError):  # the status MLflow gives the code (ALREADY_EXISTS is 400 there)
            status_code = STATUS.get(mlflow_code(exc), exc.http_status)
            if exc.http_status == 413:
                status_code = 413
            kwargs["exc_info"] = (type(exc), _Answered(exc, status_code), None)
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = _exception(kwargs)
        if isinstance(exc, MLWSError):
            code = mlflow_code(exc)
            message = exc.message if status_code < 500 or code == "TEMPORARILY_UNAVAILABLE" else _INTERNAL
        elif isinstance(exc, HTTPError) or exc is None:
            code = _HTTP_CODES.get(status_code, "INTERNAL_ERROR" if status_code >= 500 else "BAD_REQUEST")
            message = (getattr(exc, "log_message", None) or getattr(exc, "reason", None)) or code
            if status_code >= 500:
                message = _INTERNAL
        else:
            code, message = "INTERNAL_ERROR", _INTERNAL
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error_code": code, "message": message}))
