"""The one error taxonomy of jupyter_mlws.

Every domain error is an `MLWSError` subclass that knows its HTTP status and
a short machine-readable code. The Python API raises them to users as they
are; the server's single translation point (`server/handlers/base.py`) turns
them into JSON `{"error": code, "message": ...}` answers with that status.
"""

from __future__ import annotations


class MLWSError(Exception):
    """Base class of every error jupyter_mlws raises on purpose."""

    http_status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(MLWSError):
    """A name, key, value or request body that breaks a documented rule."""

    http_status = 400
    code = "invalid_parameter"


class NotFound(MLWSError):
    """The experiment, run, artifact, model or endpoint does not exist."""

    http_status = 404
    code = "not_found"


class AlreadyExists(MLWSError):
    """Creating something whose name is taken."""

    http_status = 409
    code = "already_exists"


class Conflict(MLWSError):
    """The request clashes with the current state (e.g. a param set twice)."""

    http_status = 409
    code = "conflict"


class RunEnded(Conflict):
    """Data or a heartbeat for a run that someone else ended (killed, canceled): refused, with why."""

    code = "run_ended"


class PayloadTooLarge(MLWSError):
    """A request body or batch over the configured limit."""

    http_status = 413
    code = "payload_too_large"


class Unavailable(MLWSError):
    """A backing service (store, cluster, endpoint) cannot be reached now."""

    http_status = 503
    code = "unavailable"


class IncompatibleStore(Unavailable):
    """A database this code must not touch: newer schema than the package, or not a workspace."""

    code = "incompatible_store"


class Forbidden(MLWSError):
    """The server refused the credentials or the action (wrong or missing token)."""

    http_status = 403
    code = "forbidden"
