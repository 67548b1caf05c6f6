"""Where the server may connect when a caller names the place (RELIABILITY P6: server-side request
forgery).

Who calls it: the server's cluster service (`server/clusters.py`) before it connects to an attached
Dask scheduler, the one connection this server opens to an address a REST caller chose. Every other
outbound connection of the server goes to a place it made itself (scoring replicas, Dask
dashboards on 127.0.0.1, clusters it started) or to one its owner configured (the artifact store
URL, the database URL); the MLflow API's model sources and artifact locations name files this
workspace holds and are refused with a host (`mlflow_api/registry_versions.py`); data assets and
remote model files are fetched by the client, in the user's own process, never by the server.

Decisions:
- A scheme allowlist per use (`tcp`, `tls` for a scheduler); anything else is refused by name.
- The host is resolved once, here, and every address it resolves to is checked: loopback,
  unspecified (`0.0.0.0`, `::`), link-local (the cloud metadata service at 169.254.169.254
  included), private ranges (RFC 1918, `fc00::/7`), shared address space (`100.64.0.0/10`),
  multicast and reserved addresses are refused unless an allowed network holds them, with the
  IPv4 address inside an IPv4-mapped, 6to4 or Teredo IPv6 address checked as itself. One refused
  address refuses the name (a name may answer with several). Numeric spellings the resolver
  accepts (`2130706433`, `0x7f.1`, `017700000001`) are caught because the check is on what they
  resolve to.
- The connection is then made to the checked address, never to the name again (`pinned`): a DNS
  answer that changes between the check and the connection (rebinding) cannot move it.
- Which internal networks are allowed is the server owner's choice
  (`MLWorkspaceApp.outbound_allowed_networks`). Its default, `auto`, follows who can call: a server that
  listens on loopback only is called by users of this machine, who reach its loopback and private
  networks themselves, so those are allowed (attaching the scheduler you started on 127.0.0.1 works
  out of the box); a server listening on a network address allows none of them. Link-local,
  unspecified, multicast and reserved addresses are only ever reached when a listed network holds
  them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from .errors import InvalidParameter

__all__ = [
    "LOCAL_CALLER_NETWORKS",
    "OutboundPolicy",
    "pinned_url",
    "refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

#: What a loopback-only server allows by default (module docstring): loopback and private ranges.
LOCAL_CALLER_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in LOCAL_CALLER_NETWORKS[2:])


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why `address` may not be connected to (what kind of address it is), or None when it may."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return refusal(inner, allowed)
    if any(address.version == net.version and address in net for net in allowed):
        return None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_multicast:
        return "a multicast address"
    if address.version == 4 and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if any(address.version == net.version and address in net for net in _PRIVATE):
        return "a private network address"
    if address.is_reserved or not address.is_global:
        return "a reserved or special-purpose address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


class OutboundPolicy:
    """The networks beyond the public internet that caller-named connections may reach."""

    def __init__(self, allowed: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        nets: list[IPNetwork] = []
        for text in allowed:
            try:
                nets.append(ipaddress.ip_network(str(text).strip(), strict=False))
            except ValueError:
                raise InvalidParameter(
                    f"Not a network: {text!r}. Give one CIDR per option, repeated for more: "
                    "--MLWorkspaceApp.outbound_allowed_networks=10.1.0.0/16 (in a config file, "
                    "c.MLWorkspaceApp.outbound_allowed_networks = ['10.1.0.0/16'])."
                ) from None
        self.allowed: tuple[IPNetwork, ...] = tuple(nets)
        self.resolve: Resolver = resolver or _system_resolver

    @classmethod
    def for_server(cls, configured: Sequence[str], loopback_only: bool) -> OutboundPolicy:
        """The policy of a server: the networks its owner configured, where `auto` stands for the
        default of where it listens (module docstring)."""
        auto = LOCAL_CALLER_NETWORKS if loopback_only else ()
        nets: list[str] = []
        for item in configured:
            nets.extend(auto if str(item).strip().lower() == "auto" else [item])
        return cls(nets)

    def check_host(self, host: str, port: int, what: str) -> str:
        """The address to connect to for `host` (every address it resolves to checked); else
        InvalidParameter naming the address and what kind it is."""
        try:
            found = list(self.resolve(host, port))
        except (OSError, UnicodeError) as err:
            raise InvalidParameter(f"{what}: the host {host!r} does not resolve ({err}).") from None
        if not found:
            raise InvalidParameter(f"{what}: the host {host!r} does not resolve.")
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text))
            except ValueError:
                raise InvalidParameter(f"{what}: {host!r} resolved to {text!r}, not an address.") from None
        for address in addresses:
            why = refusal(address, self.allowed)
            if why is not None:
                shown = f"{host!r}" if host == str(address) else f"{host!r} ({address})"
                raise InvalidParameter(
                    f"{what}: {shown} is {why}; this server does not connect there for a caller. "
                    "Its owner can allow a network with --MLWorkspaceApp.outbound_allowed_networks."
                )
        return str(addresses[0])


def pinned_url(url: str, schemes: Sequence[str], policy: OutboundPolicy, what: str) -> str:
    """`url` (`scheme://host:port[/path]`) with its host replaced by the checked address it
    resolves to, so the connection goes there and nowhere else; InvalidParameter when the scheme
    is not one of `schemes`, the port is missing or the address is refused."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise InvalidParameter(
            f"{what}: the scheme {scheme or '(none)'!r} is not one this server connects with "
            f"({', '.join(schemes)})."
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or parts.username is not None or parts.password is not None:
        raise InvalidParameter(f"{what}: {url!r:.200} is not {scheme}://host:port.")
    address = policy.check_host(host, port, what)
    shown = f"[{address}]" if ":" in address else address
    return f"{scheme}://{shown}:{port}{parts.path}"

