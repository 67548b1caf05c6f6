"""What the MLflow operations share: the experiment an id names, the run a request names, page tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

from ...entities import Experiment, RunInfo
from ...errors import NotFound
from ...store.base import MetadataStore
from . import convert as c
from .base import invalid, missing

#: Most runs one search answers (MLflow's own cap).
MAX_RESULTS = 50_000


def resolve_experiment(store: MetadataStore, raw: Any) -> Experiment:
    """The experiment an MLflow id names ("0" is the workspace's Default, made on first use)."""
    shown = c.experiment_id(raw)
    if shown == c.DEFAULT_EXPERIMENT_ID:
        return store.get_or_create_experiment(c.DEFAULT_EXPERIMENT)
    try:
        return store.get_experiment(int(shown))
    except NotFound:
        raise missing(f"No Experiment with id={shown} exists") from None


def run_id_of(f: dict[str, Any]) -> str:
    value = f.get("run_id") or f.get("run_uuid")
    if not value:
        raise invalid("Missing value for required parameter 'run_id'.")
    return str(value)


def info_of(store: MetadataStore, run_id: str) -> RunInfo:
    try:
        return store.get_run_info(run_id)
    except NotFound:
        raise missing(f"Run with id={run_id} not found") from None


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode() + b"==").decode())["offset"]
    except (ValueError, KeyError, TypeError):
        raise invalid("Invalid page token: pass back the next_page_token of the previous answer.") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid("Invalid page token: pass back the next_page_token of the previous answer.")
    return offset
