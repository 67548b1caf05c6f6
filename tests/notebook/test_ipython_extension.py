"""`%load_ext jupyter_mlws` and `%mlws` in a real ipykernel, and a light `import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from queue import Empty

import pytest
from jupyter_client.manager import start_new_kernel


def _run(client, code: str, timeout: float = 30) -> tuple[str, str]:
    """Execute `code` and return (stdout text, error text)."""
    msg_id = client.execute(code)
    out, err = [], []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except Empty:  # pragma: no cover - a hung kernel fails the test
            pytest.fail(f"no answer from the kernel for {code!r}")
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            err.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out), "".join(err)


@pytest.fixture
def kernel(tmp_path: Path):
    env = {**os.environ, "MLWS_WORKSPACE": str(tmp_path / "kernel-ws")}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_mlws_magic_prints_the_workspace(kernel, tmp_path: Path) -> None:
    out, err = _run(kernel, "%load_ext jupyter_mlws")
    assert err == ""
    out, err = _run(kernel, "%mlws")
    assert err == ""
    assert f"ML workspace   {tmp_path / 'kernel-ws'}" in out
    assert "$MLWS_WORKSPACE" in out
    assert f"sqlite:///{tmp_path / 'kernel-ws'}/mlws.db" in out
    info_out, _ = _run(kernel, "%mlws info")
    assert info_out == out


def test_unknown_subcommand_says_how_to_use_it(kernel) -> None:
    _run(kernel, "%load_ext jupyter_mlws")
    out, err = _run(kernel, "%mlws frobnicate")
    assert "unknown command 'frobnicate'" in out
    assert "usage: %mlws" in out


def test_unload_removes_the_magic(kernel) -> None:
    _run(kernel, "%load_ext jupyter_mlws")
    _run(kernel, "%unload_ext jupyter_mlws")
    _, err = _run(kernel, "%mlws")
    assert "UsageError" in err or "not found" in err


def test_import_stays_light() -> None:
    """`import jupyter_mlws` in a kernel must not drag in the server, tornado or Dask."""
    code = (
        "import sys, json; import jupyter_mlws; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jupyter_server', 'tornado', 'dask', 'distributed', 'pandas', 'sqlalchemy', 'IPython'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
