"""The one safe-path helper: every artifact path a user, a request or an archive supplies goes through here.

Who calls it: the artifact store (`store/artifacts.py`) for put/open/list/download/delete, the bundle
extractor (`store/bundles.py`) for every member name, and anything later that turns user text into a
file location (REST handlers, the model registry). STYLE rule 12 and RELIABILITY P1/P2: there is no
second copy of these rules anywhere else. It sits at the bottom of the package, importing nothing of
ours but `errors`, so every layer (validation, the stores, the client, the registry's files, the
server) uses this one copy.

Why it is this strict: artifact paths travel through layers that each may decode or reinterpret them
(a URL router, fsspec's glob expansion and URL parsing, Windows-style separators on an SMB share, a
downstream HTTP server). A path is accepted only if it is harmless in *every* reading:

1. Percent-decoding is applied to a fixpoint, at most `MAX_DECODE_LAYERS` times (10,000 layers of
   ``%25`` cost nothing: we stop and reject). Decoded bytes must be valid, shortest-form UTF-8, so
   overlong sequences such as ``%c0%ae`` are rejected, not turned into ``.``.
2. Every decoded layer, and its NFKC compatibility form (fullwidth dots and solidus U+FF0E U+FF0F
   read as ``../`` to some software), is checked against the rules: no ``..`` segment, not absolute,
   no backslash, no ``:`` (drive letters, URL schemes, NTFS streams), no ``#`` or ``?`` (URL fragment/query),
   no ``*`` or ``[`` (fsspec treats them as globs), no control or lone-surrogate characters, no
   bidirectional-override characters, no segment starting with our reserved ``.mlws-`` prefix.
3. The path that comes back is the *original* text (not a decoded one: ``a%20b.txt`` is a file
   literally named that) cleaned of ``.`` and empty segments and put into NFC form.
4. `resolve_under` then joins it to a local root, takes the realpath and checks that it is still
   under the root's realpath, which catches symlinks inside the root that point out of it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote_to_bytes

from .errors import InvalidParameter

#: More layers of percent-encoding than this is never a real file name: reject rather than loop.
MAX_DECODE_LAYERS = 8
#: Longest accepted path, in characters, checked before any decoding work (bounds CPU and memory).
MAX_PATH_CHARS = 1024
#: Longest segment in UTF-8 bytes: NAME_MAX is 255 and our hidden sidecar names add a short prefix.
MAX_SEGMENT_BYTES = 240
#: Names the stores use for their own temp files and checksum sidecars; users may not create them.
RESERVED_PREFIX = ".mlws-"

_FORBIDDEN_CHARS = {
    "\\": "a backslash (use '/' to separate folders)",
    ":": "a ':' (drive letters, URL schemes and stream names are not allowed)",
    "#": "a '#' (it starts a URL fragment)",
    "?": "a '?' (it starts a URL query and is a glob wildcard)",
    "*": "a '*' (glob wildcard)",
    "[": "a '[' (glob pattern)",
}
# Bidirectional embedding/override/isolate controls: they make a name display differently from
# what it is (the "trojan source" trick), so a reviewer could not see what is stored.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_RUN_ID = re.compile(r"[0-9a-f]+(?:-[0-9a-f]+)*")
_MAX_RUN_ID = 64


def safe_relative_path(path: str) -> str:
    """Validate a user-supplied artifact path and return it as a clean POSIX relative path.

    Raises `InvalidParameter` with a message naming the problem. The result never starts with ``/``,
    never contains ``..``, ``.`` or empty segments, and is stable: feeding it back returns it unchanged.
    `bytes` are accepted too and must be strict UTF-8 (overlong forms are refused).
    """
    if isinstance(path, bytes | bytearray):
        try:
            path = bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(
                "Artifact path is not valid UTF-8 (invalid or overlong byte sequence)."
            ) from None
    if not isinstance(path, str):
        raise InvalidParameter(f"Artifact path must be a string, not {type(path).__name__}.")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidParameter(
            f"Artifact path is {len(path)} characters long; the limit is {MAX_PATH_CHARS}."
        )
    if not path.strip():
        raise InvalidParameter("Artifact path is empty.")

    # The text as given first (so messages are deterministic), then its NFKC form, which matters
    # when a compatibility character such as a fullwidth '%' only becomes an escape after NFKC.
    compat_path = unicodedata.normalize("NFKC", path)
    for reading in (path, compat_path) if compat_path != path else (path,):
        for layer in _decoded_layers(reading, original=path):
            _check_layer(layer, original=path)
            compat = unicodedata.normalize("NFKC", layer)
            if compat != layer:
                _check_layer(compat, original=path)

    segments = [s for s in unicodedata.normalize("NFC", path).split("/") if s not in ("", ".")]
    if not segments:
        raise InvalidParameter(f"Artifact path {path!r} names no file or folder.")
    for segment in segments:
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidParameter(
                f"Artifact path {path!r} has a name longer than {MAX_SEGMENT_BYTES} bytes."
            )
    clean = "/".join(segments)
    if clean != path:
        # Dropping `.` and empty segments can bring a part to the front (`./~`, `.//%2f`): the clean
        # path must pass the same checks, so the result is stable (found by the property test).
        for layer in _decoded_layers(clean, original=path):
            _check_layer(layer, original=path)
            compat = unicodedata.normalize("NFKC", layer)
            if compat != layer:
                _check_layer(compat, original=path)
    return clean


def safe_prefix(prefix: str) -> str:
    """Like `safe_relative_path`, but an empty prefix ("" or "/" or ".") means "the whole run".

    Called by listing and downloading, where no prefix is a normal request.
    """
    if prefix == "" or (isinstance(prefix, str) and prefix.strip("/.") == "" and ".." not in prefix):
        return ""
    return safe_relative_path(prefix)


def safe_run_id(run_id: str) -> str:
    """Check that a run id is a lowercase hex/uuid-like token, so it is one safe folder name."""
    if not isinstance(run_id, str) or not run_id:
        raise InvalidParameter("Run id must be a non-empty string.")
    if len(run_id) > _MAX_RUN_ID or not _RUN_ID.fullmatch(run_id):
        raise InvalidParameter(
            f"Run id {run_id[:80]!r} is not valid: expected lowercase hex digits, optionally "
            f"grouped by '-', at most {_MAX_RUN_ID} characters."
        )
    return run_id


def resolve_under(root: str | os.PathLike[str], relative: str, *, follow_final_link: bool = True) -> Path:
    """Join a (validated here again) relative path to a local root and prove it stays inside.

    Raises `InvalidParameter` when a symlink anywhere on the way, existing or dangling, leads out of
    the root. With ``follow_final_link=True`` (reads) the fully resolved path is returned; with
    ``False`` (writes, deletes) it is the resolved parent folder plus the last name as given, so a
    rename or unlink acts on that name (replacing or removing a link, never its target) while the
    parent, and what the name points to, are both proven to be inside the root.

    Callers: the local artifact store, `download` for its destination folder, the bundle extractor.
    """
    real_root = Path(os.path.realpath(root))
    rel = safe_relative_path(relative)
    resolved = Path(os.path.realpath(real_root / rel))
    if not resolved.is_relative_to(real_root):
        raise InvalidParameter(
            f"Artifact path {rel!r} resolves outside its root through a symbolic link; refused."
        )
    if follow_final_link:
        return resolved
    parent, _, name = rel.rpartition("/")
    real_parent = Path(os.path.realpath(real_root / parent)) if parent else real_root
    if not real_parent.is_relative_to(real_root):
        raise InvalidParameter(
            f"Artifact path {rel!r} passes through a symbolic link that leads outside its root; refused."
        )
    return real_parent / name


def _decoded_layers(path: str, *, original: str) -> list[str]:
    """The path and each successive percent-decoding of it, up to the fixpoint (bounded)."""
    layers = [path]
    current = path
    for _ in range(MAX_DECODE_LAYERS):
        if "%" not in current:
            return layers
        try:
            decoded = unquote_to_bytes(current).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(
                f"Artifact path {original[:200]!r} percent-decodes to bytes that are not valid UTF-8 "
                "(invalid or overlong sequence)."
            ) from None
        if decoded == current:
            return layers
        layers.append(decoded)
        current = decoded
    if "%" in current and unquote_to_bytes(current) != current.encode("utf-8"):
        raise InvalidParameter(
            f"Artifact path {original[:200]!r} has more than {MAX_DECODE_LAYERS} layers of percent-encoding."
        )
    return layers


def _check_layer(layer: str, *, original: str) -> None:
    """Apply the rules to one reading of the path; `original` is only used in messages."""
    shown = original[:200]
    for ch in layer:
        category = unicodedata.category(ch)
        if category == "Cc":
            raise InvalidParameter(f"Artifact path {shown!r} contains a control character ({ch!r}).")
        if category == "Cs":
            raise InvalidParameter(
                f"Artifact path {shown!r} contains an undecodable byte (lone surrogate {ch!r})."
            )
        if ch in _BIDI_CONTROLS:
            raise InvalidParameter(f"Artifact path {shown!r} contains a bidirectional control character.")
        problem = _FORBIDDEN_CHARS.get(ch)
        if problem is not None:
            raise InvalidParameter(f"Artifact path {shown!r} contains {problem}.")
    if layer.startswith("/"):
        raise InvalidParameter(f"Artifact path {shown!r} is absolute; give a path relative to the run.")
    if layer.startswith("~"):
        raise InvalidParameter(f"Artifact path {shown!r} starts with '~' (a home folder); refused.")
    for segment in layer.split("/"):
        if segment == "..":
            raise InvalidParameter(f"Artifact path {shown!r} contains a '..' segment.")
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidParameter(
                f"Artifact path {shown!r} uses the reserved name prefix {RESERVED_PREFIX!r}."
            )
        if segment and segment.strip(" ") == "":
            raise InvalidParameter(f"Artifact path {shown!r} has a name made only of spaces.")
