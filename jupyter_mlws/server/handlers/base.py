"""The base of every jupyter_mlws REST handler and the one error translation point.

Handlers raise `MLWSError`s (or tornado `HTTPError`s) and never catch them:
`send_error` picks the status an `MLWSError` carries, and `write_error` turns
any failure into `{"error": code, "message": ...}` JSON — never a traceback.

Bodies are streamed (`stream_request_body`) so a body over the handler's
limit is refused with 413 as soon as its size is known, without buffering it
(RELIABILITY P10): `Content-Length` is checked in `prepare`, and chunked
bodies as they arrive. JSON bodies are parsed and validated against a
pydantic model in `parse_body`; a wrong type, a NaN token, or a nesting
deeper than `MAX_JSON_DEPTH` is a 400 naming the problem. The shape every
resource handler repeats is written here once: `parse_body` / `parse_changes`
(a PATCH names at least one field) in, `services.run` for the store off the
loop, `write_model(answer, status)` or `write_no_content()` out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web
from tornado.web import HTTPError, stream_request_body

from ...errors import Forbidden, InvalidParameter, MLWSError, PayloadTooLarge
from ...wire import finite_float, may_overflow
from ..openapi import api_operation
from ..services import WorkspaceServices

M = TypeVar("M", bound=BaseModel)

#: Default cap of a JSON request body (a full 1,000-point batch is ~100 KB).
MAX_JSON_BODY = 4 * 1024 * 1024
#: Deepest JSON nesting accepted (our shapes need 4).
MAX_JSON_DEPTH = 32

_INTERNAL_MESSAGE = "The ML workspace met an internal error; the server log has the details."


Method = TypeVar("Method", bound=Callable[..., Any])


def route(summary: str, **operation: Any) -> Callable[[Method], Method]:
    """One REST method: its OpenAPI operation (`api_operation`), behind `@web.authenticated` and
    `@authorized` (the handler's `auth_resource`, the method's action).

    The one way handlers declare a method, so that none is declared without both checks
    (deny by default, RELIABILITY A1-A3): `tests/server/test_routes_auth.py` walks the live
    route table and finds tornado's and jupyter_server's wrappers in every chain.
    """

    def declare(method: Method) -> Method:
        checked = web.authenticated(authorized(method))
        return api_operation(summary, **operation)(checked)  # type: ignore[no-any-return]

    return declare


@stream_request_body
class MLWSHandler(APIHandler):
    """Base handler: JSON in and out, one error shape, access to the services."""

    #: Subclasses name their area: `mlws:runs`, `mlws:models`, ...
    auth_resource = "mlws"
    #: The largest body this handler accepts (uploads raise it).
    max_body_size = MAX_JSON_BODY
    #: Whether requests wait for the workspace's stores to be open (diagnostics do not).
    needs_store = True
    #: Whether requests wait for the app's clusters, job dispatcher and endpoint manager to start.
    needs_extension = False

    _body_chunks: list[bytes]
    _body_size: int

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._body_chunks, self._body_size = [], 0
        if self._finished:
            return
        refused = self.settings.get("mlws_refusal")
        if refused:  # exposed with no credentials (server/exposure.py, RELIABILITY A10)
            raise Forbidden(refused)
        if self.needs_extension:
            await self.services.wait_extension()
        elif self.needs_store:
            await self.services.wait_ready()
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise InvalidParameter("Content-Length is not a number.") from None
            self._check_body_size(length)
        # Let tornado accept what we accept (its server-wide cap may be lower or higher).
        # Above ours, so that our check (a JSON 413) fires before tornado's (a bare 400).
        self.request.connection.set_max_body_size(self.max_body_size + 1024 * 1024)  # type: ignore[attr-defined]

    def int_argument(self, name: str, low: int, high: int | None, what: str | None = None) -> int | None:
        """The integer query argument `name` (None when absent); a 400 naming the bounds otherwise."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return None
        what = what or (f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}")
        try:
            value = int(raw)
        except ValueError:
            raise InvalidParameter(f"{name} must be {what}, not {raw[:40]!r}.") from None
        if value < low or (high is not None and value > high):
            raise InvalidParameter(f"{name} must be {what}, not {value}.")
        return value

    def check_xsrf_cookie(self) -> None:
        """jupyter_server answers a foreign `Origin` on a cookie-authenticated write with 404;
        the ML workspace says what it is: 403 (RELIABILITY A4)."""
        try:
            super().check_xsrf_cookie()
        except HTTPError as err:
            if err.status_code == 404:
                raise HTTPError(403, "Cross-origin request refused.") from None
            raise

    def data_received(self, chunk: bytes) -> None:
        """Collect the body, refusing it once it passes `max_body_size` (uploads override this)."""
        self._body_size += len(chunk)
        self._check_body_size(self._body_size)
        self._body_chunks.append(chunk)

    def _check_body_size(self, size: int) -> None:
        if size > self.max_body_size:
            raise PayloadTooLarge(
                f"The request body is {size} bytes; this resource accepts at most {self.max_body_size} bytes."
            )

    @property
    def body(self) -> bytes:
        """The request body received so far (all of it, once the method runs)."""
        return b"".join(self._body_chunks)

    def parse_body(self, model: type[M]) -> M:
        """The JSON body validated as `model`, or InvalidParameter naming what is wrong."""
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise InvalidParameter(
                f"Send the body as JSON with 'Content-Type: application/json' (got {content_type or 'none'!r})."
            )
        raw = self.body
        if not raw:
            raise InvalidParameter("The request needs a JSON body.")
        if b"NaN" not in raw and b"Infinity" not in raw and not may_overflow(raw):
            # Fast path (pydantic's own JSON parser): no non-finite token can be in the body.
            try:
                return model.model_validate_json(raw)
            except ValidationError as err:
                first = err.errors()[0]
                if first["type"] in ("json_invalid", "recursion_loop") or "recursion" in first["msg"]:
                    raise InvalidParameter(f"The body is not valid JSON: {first['msg']}") from None
                raise InvalidParameter(_describe_validation(err)) from None
        try:
            data = json.loads(raw, parse_constant=_refuse_constant, parse_float=finite_float)
        except RecursionError:
            raise InvalidParameter(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.") from None
        except InvalidParameter:
            raise
        except (UnicodeDecodeError, ValueError) as err:
            raise InvalidParameter(f"The body is not valid JSON: {err}") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise InvalidParameter(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
        try:
            return model.model_validate(data)
        except ValidationError as err:
            raise InvalidParameter(_describe_validation(err)) from None

    def parse_changes(self, model: type[M]) -> dict[str, Any]:
        """A PATCH body: the fields it names (an explicit null included), or a 400 when it names none."""
        body = self.parse_body(model)
        given = body.model_dump(include=body.model_fields_set)
        if not given:
            raise InvalidParameter(
                "The body names no field to change; give any of " + ", ".join(model.model_fields) + "."
            )
        return given

    @property
    def services(self) -> WorkspaceServices:
        return self.settings["mlws_services"]  # type: ignore[no-any-return]

    def write_model(self, model: BaseModel, status: int = 200) -> None:
        """Answer with a pydantic model as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(model.model_dump_json())

    def write_no_content(self) -> None:
        """Answer 204 with no body (a DELETE that did its work)."""
        self.set_status(204)
        self.finish()

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
            message = (getattr(exc, "log_message", None) or getattr(exc, "reason", None)) or _phrase(
                status_code
            )
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


def _refuse_constant(name: str) -> Any:
    raise InvalidParameter(
        f'Bare {name} is not JSON; send non-finite numbers as the strings "NaN", "Infinity", "-Infinity".'
    )


def _depth(value: Any, limit: int = MAX_JSON_DEPTH + 1) -> int:
    """Nesting depth of parsed JSON, iteratively and stopping early past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest >= limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _describe_validation(err: ValidationError) -> str:
    problems = []
    for issue in err.errors()[:5]:
        where = ".".join(str(part) for part in issue["loc"]) or "body"
        problems.append(f"{where}: {issue['msg']}")
    more = len(err.errors()) - 5
    suffix = f" (and {more} more)" if more > 0 else ""
    return "Invalid request body: " + "; ".join(problems) + suffix
