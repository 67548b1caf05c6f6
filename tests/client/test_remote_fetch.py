"""RELIABILITY P7: a remote fetch whose server names files `../../x` or `/tmp/x` writes nothing outside
where it should. Data assets are the fetch a user points at a remote server (`ws.data.register(path=
"https://...")`, fsspec's HTTP file system): a real HTTP server on 127.0.0.1 answers every file with
`Content-Disposition: attachment; filename="../../x"` and lists links that climb out of the folder.

Decisions (client/data.py): a fetched file is written into a fresh private temp folder under a
number, never under a name the server chose; its name in the asset is its URL path relative to the
registered folder, checked like an artifact path; `Content-Disposition` is never read. A listing with
a link that climbs out of the folder is refused whole, naming the link, rather than silently skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jupyter_mlws.errors import InvalidParameter

pytestmark = pytest.mark.catalogue("P7")

LISTING = (
    b'<html><body><a href="good.csv">good</a> <a href="../../escape.csv">up</a> '
    b'<a href="/tmp/x.csv">abs</a> <a href="sub/../../../climb.csv">climb</a></body></html>'
)
CSV = b"a,b\n1,2\n"


class _Hostile(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        listing = self.path.rstrip("/") == "/files"
        data = LISTING if listing else CSV
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if listing else "text/csv")
        self.send_header("Content-Length", str(len(data)))
        name = "/tmp/x" if self.path.endswith("abs.csv") else "../../x"
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.end_headers()
        if body:
            self.wfile.write(data)


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_file_named_by_its_server_lands_under_its_url_name_only(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupyter_mlws as mlws

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ws = mlws.Workspace(str(tmp_path / "ws"))
    tmp_x = Path("/tmp/x")
    existed = tmp_x.exists()
    before = _tree(tmp_path)
    for url, name in ((f"{hostile}/files/good.csv", "good.csv"), (f"{hostile}/files/abs.csv", "abs.csv")):
        version = ws.data.register(f"remote-{name[:-4]}", path=url)
        assert [f.path for f in version.files] == [name]
        out = ws.data.download(version.ref, tmp_path / "out" / name[:-4])
        assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [name]
        assert (out / name).read_bytes() == CSV
    new = _tree(tmp_path) - before
    assert all(p.startswith(("ws", "out")) for p in new), sorted(new)  # nothing else was written
    assert not any(Path(p).name == "x" for p in new)
    assert tmp_x.exists() == existed, "the server's /tmp/x was written"


def test_a_listing_that_climbs_out_of_the_folder_is_refused_whole(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupyter_mlws as mlws

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ws = mlws.Workspace(str(tmp_path / "ws"))
    before = _tree(tmp_path)
    with pytest.raises(InvalidParameter, match=r"\.\."):
        ws.data.register("climbing", path=f"{hostile}/files/")
    assert ws.data.list().empty  # no version half-made
    new = _tree(tmp_path) - before
    assert all(p.startswith("ws") for p in new), sorted(new)
    assert not any(Path(p).name in ("x", "escape.csv", "climb.csv") for p in new)
