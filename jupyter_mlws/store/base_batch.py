"""The batch-endpoint part of the store interface (a base of `MetadataStore`, issue 16).

Kept apart from store/base.py, as the registry's part is (base_registry.py). Every backend
implements it (SQL: store/sql/batch_endpoints.py; REST: store/rest_batch_endpoints.py) and the
contract suite in tests/store/test_contract_batch_endpoints.py runs against each.

What the store checks is the shape (names, a model reference's grammar, the setting names, tags);
what the settings mean — a cluster that exists, a model that resolves, a mini-batch size of at
least 1 — is checked before, by `client/batch_endpoints.py`, which every caller goes through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..model_entities import BatchEndpoint


class BatchEndpointStore(ABC):
    """Batch endpoints: create, read, list, change and delete."""

    @abstractmethod
    def create_batch_endpoint(self, endpoint: BatchEndpoint) -> BatchEndpoint:
        """Store a new batch endpoint with its key hashes (`AlreadyExists`); sets its times."""

    @abstractmethod
    def get_batch_endpoint(self, name: str) -> BatchEndpoint:
        """One batch endpoint (with its key hashes and script: never hand them on), or `NotFound`."""

    @abstractmethod
    def list_batch_endpoints(self) -> list[BatchEndpoint]:
        """Every batch endpoint, by name."""

    @abstractmethod
    def update_batch_endpoint(self, name: str, **changes: Any) -> BatchEndpoint:
        """Change fields of a batch endpoint (`BatchEndpoint` field names but its name and times);
        `updated_time` moves unless only `last_job_id` changes (`NotFound`)."""

    @abstractmethod
    def delete_batch_endpoint(self, name: str) -> None:
        """Forget a batch endpoint (`NotFound`); the jobs it started stay."""
