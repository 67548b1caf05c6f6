"""The base of every jupyter_mlws REST handler and the one error translation point.

Handlers raise `MLWSError`s (or tornado `HTTPError`s) and never catch them:
`send_error` picks the status an `MLWSError` carries, and `write_error` turns
any failure into `{"error": code, "message": ...}` JSON — never a traceback.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel
from tornado.web import HTTPError

from ...errors import MLWSError
from ..services import WorkspaceServices

_INTERNAL_MESSAGE = "The ML workspace met an internal error; the server log has the details."


class MLWSHandler(APIHandler):
    """Base handler: JSON in and out, one error shape, access to the services."""

    #: Subclasses name their area: `mlws:runs`, `mlws:models`, ...
    auth_resource = "mlws"

    @property
    def services(self) -> WorkspaceServices:
        return self.settings["mlws_services"]  # type: ignore[no-any-return]

    def write_model(self, model: BaseModel, status: int = 200) -> None:
        """Answer with a pydantic model as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(model.model_dump_json())

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = _exception(kwargs)
        if isinstance(exc, MLWSError):
            status_code = exc.http_status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MLWSError) and value.http_status < 500:
            # Expected: a client error. One line, no traceback, no request headers.
            self.log.info("%s %s -> %s: %s", self.request.method, self.request.path, value.code, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = _exception(kwargs)
        if isinstance(exc, MLWSError):
            code, message = exc.code, exc.message
        elif isinstance(exc, HTTPError) or exc is None:
            code = _status_code_name(status_code)
            message = (getattr(exc, "log_message", None) or getattr(exc, "reason", None)) or _phrase(status_code)
            if status_code >= 500:
                message = _INTERNAL_MESSAGE
        else:
            code, message = "internal_error", _INTERNAL_MESSAGE
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": code, "message": message}))


def _exception(kwargs: dict[str, Any]) -> BaseException | None:
    exc_info = kwargs.get("exc_info")
    return exc_info[1] if exc_info else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _status_code_name(status: int) -> str:
    return _phrase(status).lower().replace(" ", "_").replace("-", "_")
