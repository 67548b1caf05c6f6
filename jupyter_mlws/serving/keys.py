"""Scoring keys of an endpoint (RELIABILITY A7).

Who calls this: `client/endpoints.py` (deploy, regenerate) makes keys and stores only their
hashes on the Endpoint (`key_hashes`: "primary"/"secondary" -> sha256 hex); the replica
(`serving/replica.py`) checks every `Authorization: Bearer <key>` against those hashes.

Decisions: a key is `secrets.token_urlsafe(32)` (256 bits), so a plain sha256 is enough
(no salt or slow hash: nothing to brute-force). The plaintext exists only in the answer of
deploy/regenerate; the store, the replica config, REST answers and logs see hashes only.
`verify` compares the digest against every slot with `hmac.compare_digest` (constant time,
and every slot is compared, so timing says nothing about which slot matched).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

KEY_SLOTS = ("primary", "secondary")


def new_key() -> str:
    """A fresh random scoring key (43 url-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The sha256 hex digest the store keeps for `key`."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def verify(key: str | bytes | None, hashes: Mapping[str, str]) -> bool:
    """True when `key` matches one of `hashes` (constant-time per slot)."""
    if not key:
        return False
    raw = key if isinstance(key, bytes) else key.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest().encode("ascii")
    ok = False
    for value in hashes.values():
        if value and hmac.compare_digest(digest, value.encode("ascii", "replace")):
            ok = True
    return ok


def new_keys() -> tuple[dict[str, str], dict[str, str]]:
    """(plaintext keys, their hashes) for both slots of a new endpoint."""
    plain = {slot: new_key() for slot in KEY_SLOTS}
    return plain, {slot: hash_key(k) for slot, k in plain.items()}
