"""`connect(url)`: open a server's workspace by URL, checked once, with a clear word for each failure.

Who calls it: `Workspace(url)` (client/workspace.py) and `jupyter mlws sync` (cli/sync.py).
"""

from __future__ import annotations

import ipaddress
import warnings

from ..errors import Forbidden, InvalidParameter, NotFound, Unavailable
from .rest import API, RestStore


def connect(
    url: str, token: str | None = None, check_seconds: float = 10.0, durable: bool = True
) -> RestStore:
    """Open the REST store of the server at `url` and check, once, that it is one we can use.

    What a user sees instead of a stack of retries (each message names the URL, never the token):
    the server cannot be reached; it wants a token and none was given; it refused the token; it
    is not a jupyter_mlws server (no `/mlws/api/v1/info`). An `http://` URL to a host other than
    this machine warns that the token travels in clear. `durable` (the default) gives the store
    a disk spool for what the server cannot take while it is away (`store/durable.py`).
    """
    if durable:
        from .durable import DurableRestStore

        store: RestStore = DurableRestStore(url, token)
    else:
        store = RestStore(url, token)
    shown = store.url
    host = store.http.host
    if store.http.scheme == "http" and not is_loopback(host):
        warnings.warn(
            f"The workspace {shown} is reached over plain http://: the token travels in clear. "
            "Use https:// (or an SSH tunnel) across a network.",
            stacklevel=3,
        )
    try:
        response = store.http.request("GET", f"{API}/info", retry_seconds=check_seconds)
        info = response.json()
    except Forbidden as err:
        if store.http.token:
            message = (
                f"The workspace server {shown} refused the token (403): check $MLWS_TOKEN "
                "(the Jupyter server's token)."
            )
        else:
            message = (
                f"The workspace server {shown} needs a token: set $MLWS_TOKEN (or pass token=) to the "
                "Jupyter server's token."
            )
        detail = err.message if err.message.startswith("This server") else ""
        raise Forbidden(f"{message} {detail}".strip()) from None
    except NotFound:
        raise NotFound(
            f"{shown} is not a jupyter_mlws workspace server: GET {API}/info answered 404. "
            "Is the jupyter_mlws server extension enabled there, and is the URL its base URL?"
        ) from None
    except Unavailable as err:
        raise Unavailable(f"Could not reach the workspace server {shown}: {err.message}") from None
    except ValueError:
        info = None
    if not isinstance(info, dict) or "store_kind" not in info:
        raise InvalidParameter(
            f"{shown} answered GET {API}/info with something other than a jupyter_mlws workspace: "
            "is the URL the Jupyter server's base URL?"
        )
    start = getattr(store, "start", None)
    if start is not None:
        start()
    return store


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
