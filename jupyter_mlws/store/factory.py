"""`open_store(url)`: pick the metadata-store backend from the URL's scheme.

Called by `client.Workspace`, the CLI and the server. Each backend is
imported only when its scheme is used, so `import jupyter_mlws` stays light.
Adding a backend (the REST store of issue 4) is one line in `BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidParameter
from ..location import redact_url
from .base import MetadataStore

# scheme -> "module:Class"; the class is called with (url, **options).
BACKENDS: dict[str, str] = {
    "sqlite": "jupyter_mlws.store.sql.store:SqlStore",
    "postgresql": "jupyter_mlws.store.sql.store:SqlStore",
    "postgres": "jupyter_mlws.store.sql.store:SqlStore",
    "http": "jupyter_mlws.store.rest:RestStore",
    "https": "jupyter_mlws.store.rest:RestStore",
}


def open_store(url: str, **options: Any) -> MetadataStore:
    """Open the metadata store at `url` (creating or migrating its schema when needed)."""
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    target = BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise InvalidParameter(f"No metadata store for {redact_url(url)!r}: supported schemes are {known}.")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    store: MetadataStore = cls(url, **options)
    return store
