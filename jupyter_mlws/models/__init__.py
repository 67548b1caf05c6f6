"""Model files, formats and the one loading gate (issue 8). Imported lazily: nothing heavy here.

- `files`: collect / store as blobs / manifest digest / materialize verified copies (S6).
- `flavors`: flavor detection and `save_sklearn`.
- `gate`: `load_model(folder, version) -> Predictor`, the only place model files are deserialized (S1, S2).
- `signature`: `infer_signature(example)` and `to_frame(payload, signature)`.

The registry API itself is `ws.models` (client/models.py).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "save_sklearn": "flavors",
    "detect_flavor": "flavors",
    "load_model": "gate",
    "Predictor": "gate",
    "UntrustedModel": "gate",
    "materialize": "files",
    "ModelIntegrityError": "files",
    "infer_signature": "signature",
    "to_frame": "signature",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Resolve the public names on first use (PEP 562), so `import jupyter_mlws.models` stays light."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mlws.models' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
