"""Refuse to serve the workspace from a server anyone can reach without credentials (RELIABILITY A10).

Who calls this: `MLWorkspaceApp.initialize_settings` (server/app.py) once, at start; every
REST handler (`handlers/base.py`, `prepare`) answers 403 with the reason while it is set.

Why: `jupyter lab --ip=0.0.0.0 --IdentityProvider.token=''` (a common copy-paste for
containers) makes jupyter_server accept anonymous requests, and an XSRF check is no defence
when an attacker chooses both the cookie and the header. The workspace holds code, data,
models and endpoint keys; on such a server it would serve them to anyone on the network.

The rule: the server listens on a non-loopback address (`0.0.0.0`, `''`, `*`, a LAN IP, a
hostname that does not resolve to loopback only) AND its identity provider has no token or
password (`IdentityProvider.auth_enabled` is false: jupyter_server's own token/password
provider with both empty). An identity provider of another kind (JupyterHub's, an OAuth
proxy's) authenticates users itself and is trusted. Then every `/mlws/...` route answers
403 `{"error": "forbidden", "message": <the reason and the fix>}` — `/info` included, so a
client sees why — and the server log says it once at start. Nothing else of the extension
changes: kernels, endpoints (which have keys of their own) and the supervisor run as usual.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


def _loopback_only(ip: str) -> bool:
    if ip in ("", "*", "0.0.0.0", "::"):
        return False
    if ip.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(ip, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in found)


def listens_on_loopback_only(serverapp: Any) -> bool:
    """True when the server is reachable from this machine only (its `ip` is loopback)."""
    return _loopback_only(str(getattr(serverapp, "ip", "") or ""))


def refusal(serverapp: Any) -> str | None:
    """Why this server must not serve the workspace, or None when it may."""
    ip = str(getattr(serverapp, "ip", "") or "")
    provider = getattr(serverapp, "identity_provider", None)
    if provider is None or getattr(provider, "auth_enabled", True):
        return None
    if _loopback_only(ip):
        return None
    shown = ip or "all interfaces"
    return (
        f"jupyter_mlws refuses to serve the ML workspace: this server listens on {shown} with no "
        "token and no password, so anyone who can reach it could read and change the workspace. "
        "Set a token (--IdentityProvider.token=...) or a password, or listen on 127.0.0.1."
    )
