"""Security of the artifact routes over real HTTP (RELIABILITY A2, A4, P1).

Requests go through a real jupyter_server (pytest-jupyter) with the token, without it, or with only a
browser session cookie; every refusal is checked for "nothing changed", on disk and in the store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .test_artifact_routes import Artifacts, error_of, make_run


@pytest.fixture
def arts(jp_serverapp, http_server_client, jp_base_url, jp_auth_header, jp_root_dir) -> Artifacts:
    return Artifacts(http_server_client, jp_base_url, jp_auth_header, make_run(jp_serverapp), jp_root_dir)


# Sent as written here, on the wire: tornado decodes the path once before the handler sees it.
TRAVERSAL_ON_THE_WIRE = [
    "../x",
    "a/../../x",
    "../../../../outside/sentinel.txt",
    "..%2fx",
    "..%2F..%2F..%2F..%2Foutside%2Fsentinel.txt",
    "%2e%2e/x",
    "%2e%2e%2f%2e%2e%2fx",
    "%252e%252e%252fx",
    "%25252e%25252e%25252fx",
    "..%5cx",
    "%5c%5chost%5cshare",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "C:/x",
    "C%3A%5Cwindows",
    "a/%23/../..",
    "a%3F/../",
    "a;/../",
    "%00",
    "a%00.txt",
    "a%0ab",
    "a%1b[31m",
    "%c0%ae%c0%ae/x",
    "%ef%bc%8e%ef%bc%8e%ef%bc%8fx",
    ".mlws-part-0123",
    "x/.mlws-sum-y",
    "evil/sentinel.txt",
    "evil/new.txt",
]


def tree(*folders: Path) -> dict[str, bytes | str]:
    """Every entry under the folders (links not followed), skipping the database files that change."""
    found: dict[str, bytes | str] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.name.startswith("mlws.db"):
                continue
            found[str(path)] = (
                f"link:{os.readlink(path)}"
                if path.is_symlink()
                else "dir"
                if path.is_dir()
                else path.read_bytes()
            )
    return found


@pytest.mark.catalogue("P1")
async def test_traversal_corpus_over_http_is_400_and_touches_nothing(
    arts: Artifacts, jp_root_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_bytes(b"do not touch")
    (jp_root_dir / "notebook.ipynb").write_bytes(b"{}")
    assert (await arts.put("inside.txt", b"kept")).code == 201
    (arts.folder / "evil").symlink_to(outside, target_is_directory=True)
    before = tree(jp_root_dir, outside)
    for wire in TRAVERSAL_ON_THE_WIRE:
        for method in ("PUT", "GET", "DELETE"):
            body = b"pwned" if method == "PUT" else None
            response = await arts.call(method, wire, body=body)
            assert response.code == 400, f"{method} {wire!r}: {response.code}"
            assert error_of(response)["error"] in ("invalid_parameter", "bad_request")
        response = await arts.client.fetch(
            f"{arts.prefix}?prefix={wire}", headers=arts.auth, raise_error=False
        )
        if wire.startswith("evil/"):
            # A listing reads the metadata store, never the disk: a link's name just matches nothing.
            assert response.code == 200 and json.loads(response.body)["artifacts"] == []
        else:
            assert response.code == 400, f"list prefix={wire!r}: {response.code}"
    assert tree(jp_root_dir, outside) == before
    assert [a["path"] for a in await arts.listing()] == ["inside.txt"]


@pytest.mark.catalogue("A2")
async def test_anonymous_requests_are_refused_and_change_nothing(arts: Artifacts) -> None:
    assert (await arts.put("model.bin", b"original")).code == 201
    anonymous = {"Authorization": ""}
    assert (await arts.call("PUT", "model.bin", body=b"replaced", headers=anonymous)).code == 403
    assert (await arts.call("PUT", "other.bin", body=b"new", headers=anonymous)).code == 403
    assert (await arts.call("DELETE", "model.bin", headers=anonymous)).code == 403
    assert (await arts.call("GET", "model.bin", headers=anonymous)).code == 403
    assert (await arts.call("GET", headers=anonymous)).code == 403
    assert [a["path"] for a in await arts.listing()] == ["model.bin"]
    assert (await arts.get("model.bin"))[1] == b"original"
    assert arts.leftovers() == []


@pytest.mark.catalogue("A4")
async def test_cross_origin_writes_with_the_session_cookie_but_no_xsrf_are_refused(
    arts: Artifacts, jp_serverapp
) -> None:
    """A4: a page on another site makes the browser send the user's cookie, but not the XSRF token."""
    token = jp_serverapp.identity_provider.token
    login = await arts.client.fetch(f"{arts.prefix}?token={token}", raise_error=False)
    assert login.code == 200
    session = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert session.startswith("username-")
    assert (await arts.put("model.bin", b"original")).code == 201
    # With a foreign Origin, or with none (an old browser, a form from a sandboxed frame), the
    # missing XSRF token means 403.
    for origin, refused in (({"Origin": "https://evil.example"}, 403), ({}, 403)):
        for content_type, body in (
            ("text/plain", b"pwned"),
            ("application/x-www-form-urlencoded", b"a=pwned"),
        ):
            browser = {"Cookie": session, "Content-Type": content_type, "Authorization": "", **origin}
            for path in ("model.bin", "planted.bin"):
                response = await arts.call("PUT", path, body=body, headers=browser)
                assert response.code == refused, response.body
                assert error_of(response)["error"] == "forbidden"
            assert (await arts.call("DELETE", "model.bin", headers=browser)).code == refused
    assert [a["path"] for a in await arts.listing()] == ["model.bin"]
    assert (await arts.get("model.bin"))[1] == b"original"
    # The same cookie with the XSRF token (what the lab page itself sends) is accepted.
    same_site = {"Cookie": f"{session}; _xsrf=deadbeef", "X-XSRFToken": "deadbeef", "Authorization": ""}
    assert (await arts.call("PUT", "mine.bin", body=b"ok", headers=same_site)).code == 201
