"""The one safe-path helper (RELIABILITY P1, P2): what it refuses, what it accepts, and a property test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlws import paths
from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.paths import resolve_under, safe_prefix, safe_relative_path, safe_run_id

# (path, a fragment the message must contain, so the user learns what is wrong)
TRAVERSAL_CORPUS = [
    # Dropping "." and empty segments must not bring a refused part to the front (property test).
    ("./~", "home folder"),
    (".//%2f", "absolute"),
    ("../x", "'..' segment"),
    ("a/../../x", "'..' segment"),
    ("a/../b", "'..' segment"),
    ("..%2f", "'..' segment"),
    ("..%2Fetc%2Fpasswd", "'..' segment"),
    ("%2e%2e/x", "'..' segment"),
    ("%252e%252e%252f", "'..' segment"),
    ("%25252e%25252e%25252fx", "'..' segment"),
    ("..\\x", "backslash"),
    ("a\\..\\..\\x", "backslash"),
    ("..%5cx", "backslash"),
    ("/etc/passwd", "absolute"),
    ("%2fetc%2fpasswd", "absolute"),
    ("//host/share", "absolute"),
    ("C:/", "':'"),
    ("c:\\windows", "':'"),
    ("\\\\host\\share", "backslash"),
    ("file:///etc/passwd", "':'"),
    ("a/#/../..", "'#'"),
    ("a?/../", "'?'"),
    ("a;/../", "'..' segment"),
    ("%00", "control character"),
    ("a%00.txt", "control character"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\x1b[31mb", "control character"),
    ("a\x7fb", "control character"),
    ("%c0%ae%c0%ae/x", "not valid UTF-8"),
    ("%c0%ae%c0%ae%c0%af", "not valid UTF-8"),
    ("%e0%80%ae%e0%80%ae/x", "not valid UTF-8"),
    ("%ff", "not valid UTF-8"),
    ("\udcc0\udcae/x", "surrogate"),
    ("\uff0e\uff0e\uff0fx", "'..' segment"),  # fullwidth "../x" (NFKC reading)
    ("\u2025/x", "'..' segment"),  # "two dot leader" is ".." under NFKC
    ("\uff05\uff12\uff45\uff05\uff12\uff45/x", "'..' segment"),  # fullwidth "%2e%2e": NFKC, then decode
    ("safe\u202egnp.exe", "bidirectional"),
    ("outputs/*", "'*'"),
    ("outputs/[ab]", "'['"),
    ("~/x", "'~'"),
    (".mlws-part-123", "reserved"),
    ("a/.mlws-sum-b", "reserved"),
    ("", "empty"),
    ("   ", "empty"),
    ("/", "absolute"),
    (".", "names no file"),
    ("././/", "names no file"),
    ("a/ /b", "only of spaces"),
    ("x" * 2000, "limit is"),
    ("a/" + "n" * 241, "longer than"),
]


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize(("path", "fragment"), TRAVERSAL_CORPUS)
def test_corpus_is_refused_with_a_message_that_names_the_problem(path: str, fragment: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        safe_relative_path(path)
    assert fragment in info.value.message
    assert info.value.http_status == 400


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("outputs/model.skops", "outputs/model.skops"),
        ("./outputs//model.skops/", "outputs/model.skops"),
        ("a%20b.txt", "a%20b.txt"),  # a literal name, not decoded
        ("100%", "100%"),
        ("a;b", "a;b"),
        ("model (1).pkl", "model (1).pkl"),
        ("...", "..."),
        ("..a/b..", "..a/b.."),
        ("e\u0301t\u00e9/x", "\u00e9t\u00e9/x"),  # NFC
        ("donn\u00e9es/\u6a21\u578b.bin", "donn\u00e9es/\u6a21\u578b.bin"),
        ("%2541", "%2541"),  # decodes to "%41", then "A": harmless in every reading
        (b"outputs/x.txt", "outputs/x.txt"),
    ],
)
def test_ordinary_names_are_accepted_and_normalised(path: str, clean: str) -> None:
    assert safe_relative_path(path) == clean
    assert safe_relative_path(clean) == clean


@pytest.mark.catalogue("P1")
def test_overlong_utf8_given_as_bytes_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="overlong"):
        safe_relative_path(b"\xc0\xae\xc0\xae/etc")


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="must be a string"):
        safe_relative_path(42)  # type: ignore[arg-type]


@pytest.mark.catalogue("P2")
def test_ten_thousand_layers_of_percent_encoding_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = "%" + "25" * 10_000 + "2e%2e/x"
    with pytest.raises(InvalidParameter, match="limit is"):
        safe_relative_path(bomb)
    # Even with the length guard lifted, the layer cap stops the decoding loop.
    monkeypatch.setattr(paths, "MAX_PATH_CHARS", 10**6)
    with pytest.raises(InvalidParameter, match="layers of percent-encoding"):
        safe_relative_path(bomb)


@pytest.mark.catalogue("P2")
def test_layer_cap_is_exact() -> None:
    def nested(layers: int) -> str:  # decodes to "A" after `layers` decodings
        return "%" + "25" * (layers - 1) + "41"

    assert safe_relative_path(nested(paths.MAX_DECODE_LAYERS)) == nested(paths.MAX_DECODE_LAYERS)
    with pytest.raises(InvalidParameter, match="more than"):
        safe_relative_path(nested(paths.MAX_DECODE_LAYERS + 1))


@pytest.mark.parametrize("prefix", ["", "/", ".", "./"])
def test_empty_prefixes_mean_the_whole_run(prefix: str) -> None:
    assert safe_prefix(prefix) == ""


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize("prefix", ["..", "../", "/..", " "])
def test_prefix_traversal_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidParameter):
        safe_prefix(prefix)


@pytest.mark.parametrize("run_id", ["0123abcd", "3f2a9c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "a" * 64])
def test_valid_run_ids(run_id: str) -> None:
    assert safe_run_id(run_id) == run_id


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize(
    "run_id", ["", "..", "../x", "a/b", "ABC", "abc-", "-abc", "a--b", "g1", "a" * 65, 7]
)
def test_invalid_run_ids(run_id: str) -> None:
    with pytest.raises(InvalidParameter, match=r"[Rr]un id"):
        safe_run_id(run_id)  # type: ignore[arg-type]


@pytest.fixture
def rooted(tmp_path: Path) -> tuple[Path, Path]:
    """A root with symlinks inside that lead out, and the outside folder they lead to."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "inner").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "inner" / "ok.txt").write_text("ok")
    (root / "out").symlink_to(outside)
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(outside / "not-yet")
    (root / "alias").symlink_to(root / "inner")
    return root, outside


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize(
    "rel", ["out", "out/secret.txt", "out/new.txt", "leak.txt", "dangling", "dangling/x"]
)
@pytest.mark.parametrize("follow", [True, False])
def test_resolve_under_refuses_symlinks_out_of_the_root(
    rooted: tuple[Path, Path], rel: str, follow: bool
) -> None:
    root, _ = rooted
    with pytest.raises(InvalidParameter, match="symbolic link"):
        resolve_under(root, rel, follow_final_link=follow)


def test_resolve_under_accepts_links_that_stay_inside(rooted: tuple[Path, Path]) -> None:
    root, _ = rooted
    real_root = Path(os.path.realpath(root))
    assert resolve_under(root, "alias/ok.txt") == real_root / "inner" / "ok.txt"
    assert resolve_under(root, "alias", follow_final_link=False) == real_root / "alias"
    assert resolve_under(root, "new/file.bin") == real_root / "new" / "file.bin"


@pytest.mark.catalogue("P1")
def test_resolve_under_refuses_a_parent_outside_even_if_the_name_leads_back(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "target.txt").write_text("t")
    (root / "away").symlink_to(outside)
    (outside / "back").symlink_to(root / "target.txt")
    assert resolve_under(root, "away/back") == Path(os.path.realpath(root / "target.txt"))
    with pytest.raises(InvalidParameter, match="outside its root"):
        resolve_under(root, "away/back", follow_final_link=False)


# -- property test (P2) -------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "\\",
        "%",
        "%2e",
        "%2f",
        "%25",
        "%5c",
        "%c0%ae",
        "a",
        "b.txt",
        ":",
        "C:",
        "~",
        "#",
        "?",
        "\x00",
        "\uff0e",
        "\uff0f",
        "\u2025",
        "out",
        "leak.txt",
        "dangling",
        "alias",
        " ",
        "\u00e9",
        "e\u0301",
    ]
)
# Glued together ("..%2f" style), or as short paths over names that matter ("../out/x" style).
TRICKY_PATHS = st.lists(_PIECES, max_size=12).map("".join) | st.lists(
    st.sampled_from(["..", ".", "", "a", "out", "leak.txt", "dangling", "alias", "%2e%2e", "..\\"]),
    min_size=1,
    max_size=5,
).map("/".join)


@pytest.fixture(scope="module")
def property_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "root"
        outside = base / "outside"
        (root / "inner").mkdir(parents=True)
        outside.mkdir()
        (root / "out").symlink_to(outside)
        (root / "leak.txt").symlink_to(outside)
        (root / "dangling").symlink_to(outside / "nothing")
        (root / "alias").symlink_to(root / "inner")
        yield root


def _check_property(root: Path, text: str) -> None:
    try:
        clean = safe_relative_path(text)
    except InvalidParameter:
        return
    assert not clean.startswith("/") and ".." not in clean.split("/") and "\\" not in clean
    assert safe_relative_path(clean) == clean
    real_root = os.path.realpath(root)
    for follow in (True, False):
        try:
            resolved = resolve_under(root, clean, follow_final_link=follow)
        except InvalidParameter:
            continue
        assert Path(os.path.realpath(resolved)).is_relative_to(real_root)


@pytest.mark.catalogue("P2")
@settings(max_examples=400, deadline=None, database=None)
@given(text=st.text(max_size=60))
def test_property_any_text_is_refused_or_stays_under_the_root(property_root: Path, text: str) -> None:
    _check_property(property_root, text)


@pytest.mark.catalogue("P2")
@settings(max_examples=600, deadline=None, database=None)
@given(text=TRICKY_PATHS)
def test_property_traversal_alphabet_is_refused_or_stays_under_the_root(
    property_root: Path, text: str
) -> None:
    _check_property(property_root, text)
