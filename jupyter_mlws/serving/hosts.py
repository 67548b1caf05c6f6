"""The replica's Host check (RELIABILITY A5, DNS rebinding): the Jupyter server's rule.

Who calls this: `serving/replica.py` on every request, with the allowlist of its `State`;
the EndpointManager writes the allowlist into the replica config (`host_policy`).

A web page on `evil.example` whose name an attacker re-points at 127.0.0.1 can make a
browser send requests to a local endpoint; the browser then sends `Host: evil.example`.
Like jupyter_server (`ServerApp.allow_remote_access`, `local_hostnames`), a replica answers
only requests whose Host is a loopback IP literal or one of `local_hostnames` (default
`localhost`), unless remote access is allowed. The Jupyter server passes its own two
settings; a manager outside a server (`ws.endpoints` in a script, `jupyter mlws endpoints
serve`) allows remote access only for endpoints bound to a non-loopback address, as
jupyter_server's own default does. Anything else is a 403 before the key is even looked at.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class HostPolicy:
    """Which Host headers a replica answers."""

    allow_remote_access: bool = False
    local_hostnames: frozenset[str] = frozenset({"localhost"})

    @classmethod
    def from_config(cls, config: dict[str, object] | None, bind_host: str) -> HostPolicy:
        config = config or {}
        remote = config.get("allow_remote_access")
        names = config.get("local_hostnames")
        return cls(
            allow_remote_access=(not is_loopback(bind_host)) if remote is None else bool(remote),
            local_hostnames=frozenset(str(n).lower() for n in names)
            if isinstance(names, (list, tuple))
            else frozenset({"localhost"}),
        )

    def allows(self, host_header: str | None) -> bool:
        if self.allow_remote_access:
            return True
        name = hostname(host_header or "")
        if not name:
            return False
        if name in self.local_hostnames:
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False


def hostname(host_header: str) -> str:
    """The name part of a Host header: `[::1]:8080` → `::1`, `Example.COM:80` → `example.com`."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether a bind address is loopback (`localhost`, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
