"""Deploying to the store: new endpoints, blue/green deployments and their traffic, key rotation.

`apply_deploy(store, ...)` and `regenerate_key(store, ...)` are the store-side halves of
`ws.endpoints.deploy` and `regenerate_key` (client/endpoints.py): they only write the store; an
EndpointManager (`serving/manager.py`) does the rest. `with_traffic` is shared with
`EndpointHandle.update`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..entities import Deployment, Endpoint
from ..errors import InvalidParameter, NotFound
from ..serving import keys as keymod
from ..validation import validate_endpoint_name, validate_timeout_seconds

if TYPE_CHECKING:
    from ..store.base import MetadataStore


def apply_deploy(
    store: MetadataStore,
    name: str,
    model: str,
    *,
    replicas: int | None = None,
    port: int | None = None,
    deployment: str = "blue",
    traffic: int | dict[str, int] | None = None,
    timeout_seconds: float | None = None,
) -> tuple[Endpoint, dict[str, str] | None]:
    """Write a deploy to the store (see `Endpoints.deploy`); (the endpoint, plaintext keys of a
    NEW endpoint or None). Shared by `ws.endpoints` and the server's REST handler; the
    manager does the rest."""
    validate_endpoint_name(name)
    validate_endpoint_name(deployment)
    if timeout_seconds is not None:
        timeout_seconds = validate_timeout_seconds(timeout_seconds)
    version = store.resolve_model(model)
    try:
        current = store.get_endpoint(name)
    except NotFound:
        current = None
    if current is None:
        if traffic not in (None, 100) and not isinstance(traffic, dict):
            raise InvalidParameter("the first deployment of an endpoint takes all the traffic")
        plain, hashes = keymod.new_keys()
        record = Endpoint(
            name=name,
            deployments=(Deployment(deployment, model, version.version, 100, version.sha256),),
            replicas=1 if replicas is None else replicas,
            port=port,
            key_hashes=hashes,
            timeout_seconds=30.0 if timeout_seconds is None else float(timeout_seconds),
        )
        return store.create_endpoint(record), plain
    deps = list(current.deployments)
    names = [d.name for d in deps]
    if deployment in names:
        i = names.index(deployment)
        deps[i] = Deployment(deployment, model, version.version, deps[i].traffic, version.sha256)
    else:
        deps.append(Deployment(deployment, model, version.version, 0, version.sha256))
    if isinstance(traffic, dict):
        shares = traffic
    elif traffic is not None:
        shares = _rescaled(deps, deployment, int(traffic))
    else:
        shares = {d.name: d.traffic for d in deps}
    changes: dict[str, Any] = {"deployments": with_traffic(tuple(deps), shares), "state": "updating"}
    if replicas is not None:
        changes["replicas"] = replicas
    if timeout_seconds is not None:
        changes["timeout_seconds"] = float(timeout_seconds)
    return store.update_endpoint(name, **changes, state_reason=None), None


def regenerate_key(store: MetadataStore, name: str, slot: str) -> str:
    """Replace the key of `slot` with a new one; the new plaintext (its hash goes to the store)."""
    if slot not in keymod.KEY_SLOTS:
        raise InvalidParameter("the key slot is 'primary' or 'secondary'")
    record = store.get_endpoint(name)
    key = keymod.new_key()
    store.update_endpoint(name, key_hashes={**record.key_hashes, slot: keymod.hash_key(key)})
    return key


def _rescaled(deps: list[Deployment], new: str, share: int) -> dict[str, int]:
    if not 0 <= share <= 100:
        raise InvalidParameter("traffic is a percentage from 0 to 100")
    others = [d for d in deps if d.name != new]
    total = sum(d.traffic for d in others) or 1
    out = {d.name: d.traffic * (100 - share) // total for d in others}
    if others:
        out[others[0].name] += 100 - share - sum(out.values())
    out[new] = share
    return out


def with_traffic(deps: tuple[Deployment, ...], traffic: dict[str, int]) -> tuple[Deployment, ...]:
    unknown = set(traffic) - {d.name for d in deps}
    if unknown:
        raise InvalidParameter(f"no deployment named {', '.join(sorted(unknown))} on this endpoint")
    out = tuple(Deployment(d.name, d.model, d.version, int(traffic.get(d.name, 0)), d.sha256) for d in deps)
    if sum(d.traffic for d in out) != 100:
        raise InvalidParameter("the traffic of an endpoint's deployments must add up to 100")
    return out
