"""MLflow's model registry calls on our registry: registered models, their tags and aliases.

One workspace, two front doors: an MLflow registered model IS our registered model (`ws.models`,
the panel, endpoints), an MLflow model version IS our version (`registry_versions.py`). The
operations here are MLflow's `ModelRegistryService` (`model_registry.proto`) as MLflow's server
answers them (`mlflow/server/handlers.py`), with these differences, each a decision:

- Names and aliases follow our registry's rules (`validation/names.py`): a model name is 1-128
  letters, digits, '.', '_' or '-'; an alias is lowercase. Others are INVALID_PARAMETER_VALUE with
  the rule in the message (MLflow's server accepts more). MLflow's reserved aliases (`latest`,
  `v<number>`) are refused as MLflow refuses them; `latest` reads the newest version.
- Renaming or deleting a model that an endpoint serves is refused, as through `ws.models` (the
  endpoint would lose its model); MLflow has no endpoints.
- Tags of a model are set and removed one at a time (read, change, write: the last writer wins).
  Removing a tag or an alias that is not there is not an error, as in MLflow.
- `registered-models/search` supports `name` and `tags.<key>` with =, !=, LIKE, ILIKE (and IN on
  name), joined by AND; order by name and last_updated_timestamp; MLflow's page tokens.

`OPERATIONS` maps (HTTP method, path after `mlflow/`) to `op(store, fields)`; it includes the
version operations of `registry_versions.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...errors import AlreadyExists, NotFound
from ...store.base import MetadataStore
from ...validation import parse_model_ref, validate_alias
from . import convert as c
from . import registry_shapes as s
from . import registry_versions as versions
from .base import MLflowError, invalid, missing

Operation = Callable[..., dict[str, Any]]
#: MLflow's search limits for registered models.
SEARCH_DEFAULT, SEARCH_MOST = 100, 1000
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def _exists(name: str) -> MLflowError:
    return MLflowError("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.")


def _answer(store: MetadataStore, name: str) -> dict[str, Any]:
    return {"registered_model": s.model_json(store, s.get_model(store, name))}


def _refuse_if_served(store: MetadataStore, name: str, what: str) -> None:
    served = [e.name for e in store.list_endpoints()
              if any(parse_model_ref(d.model)[0] == name for d in e.deployments)]
    if served:
        raise invalid(f"Cannot {what} registered model '{name}': endpoint(s) {', '.join(served)} serve it; "
                      "delete them or deploy another model there first.")


# ----- registered models ---------------------------------------------------------------------------
def create_registered_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = s.model_name(f)
    tags, description = s.tag_dict(f.get("tags")), c.text(f, "description") or ""
    try:
        store.create_registered_model(name, description=description, tags=tags)
    except AlreadyExists:
        raise _exists(name) from None
    return _answer(store, name)


def get_registered_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return _answer(store, s.model_name(f))


def rename_registered_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, new_name = s.model_name(f), s.model_name(f, "new_name")
    s.get_model(store, name)
    _refuse_if_served(store, name, "rename")
    try:
        store.rename_registered_model(name, new_name)
    except NotFound:
        raise missing(f"Registered Model with name={name} not found") from None
    except AlreadyExists:
        raise _exists(new_name) from None
    return _answer(store, new_name)


def update_registered_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = s.model_name(f)
    s.get_model(store, name)
    if "description" in f:
        store.update_registered_model(name, description=c.text(f, "description") or "")
    return _answer(store, name)


def delete_registered_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = s.model_name(f)
    s.get_model(store, name)
    _refuse_if_served(store, name, "delete")
    store.delete_registered_model(name)
    return {}


def search_registered_models(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    clauses = s.parse_filter(c.text(f, "filter"), ["name"])
    found = [m for m in store.list_registered_models() if s.matches(clauses, {"name": m.name}, m.tags)]
    keys = {"name": lambda m: m.name, "last_updated_timestamp": lambda m: m.updated_time}
    found = s.sort(found, f.get("order_by"), keys, [("name", True)])
    shown, token = s.page(found, f, SEARCH_DEFAULT, SEARCH_MOST)
    answer: dict[str, Any] = {"registered_models": [s.model_json(store, m) for m in shown]}
    if token:
        answer["next_page_token"] = token
    return answer


def get_latest_versions(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = s.model_name(f)
    s.get_model(store, name)
    latest = s.latest_versions(store.list_model_versions(name), s.string_list(f.get("stages")))
    return {"model_versions": [s.version_json(v) for v in latest]}


# ----- tags ---------------------------------------------------------------------------------------
def set_registered_model_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, key = s.model_name(f), str(c.required(f, "key"))
    tags = dict(s.get_model(store, name).tags)
    tags[key] = "" if f.get("value") is None else str(f["value"])
    store.update_registered_model(name, tags=tags)
    return {}


def delete_registered_model_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, key = s.model_name(f), str(c.required(f, "key"))
    tags = dict(s.get_model(store, name).tags)
    if tags.pop(key, None) is not None:
        store.update_registered_model(name, tags=tags)
    return {}


# ----- aliases ------------------------------------------------------------------------------------
def _alias(f: dict[str, Any]) -> str:
    alias = str(c.required(f, "alias"))
    if _RESERVED_ALIAS.match(alias):
        raise invalid(f"'{alias[:40]}' alias name (case insensitive) is reserved: 'latest' and "
                      "'v<number>' name versions already.")
    return validate_alias(alias)


def set_registered_model_alias(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, alias, number = s.model_name(f), _alias(f), s.version_number(f)
    s.get_version(store, name, number)
    store.set_model_alias(name, alias, number)
    return {}


def delete_registered_model_alias(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, alias = s.model_name(f), validate_alias(str(c.required(f, "alias")))
    if alias in s.get_model(store, name).aliases:
        try:
            store.delete_model_alias(name, alias)
        except NotFound:
            pass  # removed meanwhile: what was asked is true
    return {}


def get_model_version_by_alias(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name, alias = s.model_name(f), str(c.required(f, "alias"))
    model = s.get_model(store, name)
    if alias.lower() == "latest":
        if model.latest_version is None:
            raise missing(f"Latest version not found for model {name}.")
        return {"model_version": s.version_json(s.get_version(store, name, model.latest_version))}
    alias = validate_alias(alias)
    if alias not in model.aliases:
        raise missing(f"Registered model alias {alias} not found.")
    return {"model_version": s.version_json(s.get_version(store, name, model.aliases[alias]))}


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "registered-models/create"): create_registered_model,
    ("POST", "registered-models/rename"): rename_registered_model,
    ("PATCH", "registered-models/update"): update_registered_model,
    ("DELETE", "registered-models/delete"): delete_registered_model,
    ("GET", "registered-models/get"): get_registered_model,
    ("GET", "registered-models/search"): search_registered_models,
    ("POST", "registered-models/get-latest-versions"): get_latest_versions,
    ("GET", "registered-models/get-latest-versions"): get_latest_versions,
    ("POST", "registered-models/set-tag"): set_registered_model_tag,
    ("DELETE", "registered-models/delete-tag"): delete_registered_model_tag,
    ("POST", "registered-models/alias"): set_registered_model_alias,
    ("DELETE", "registered-models/alias"): delete_registered_model_alias,
    ("GET", "registered-models/alias"): get_model_version_by_alias,
    **versions.OPERATIONS,
}
