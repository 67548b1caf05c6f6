"""Real kernels for the notebook tests: a jupyter_client kernel per module, with a workspace.

Every kernel is started with `MLWS_WORKSPACE=<tmp>/ws`, `JPY_SESSION_NAME=<tmp>/nb.ipynb`
(what jupyter_server sets for a notebook's kernel) and `<tmp>` as its folder. The test
reads what the kernel wrote through its own store on the same folder, as the server does.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from jupyter_client.manager import KernelManager
from jupyter_core.paths import jupyter_runtime_dir

from jupyter_mlws.store.factory import open_store

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RUN_ID = re.compile(r'data-mlws-run="([0-9a-f]+)"')


@dataclass
class Reply:
    """What one execute request produced, as a frontend would see it."""

    stdout: str = ""
    stderr: str = ""
    error: str = ""  # the traceback text, ANSI colours removed
    ename: str = ""
    result: dict[str, Any] | None = None  # execute_result data
    displays: list[dict[str, Any]] = field(default_factory=list)  # display_data / update_display_data
    payload: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""
    execution_count: int | None = None
    #: every output message in order, as nbformat outputs (what a frontend saves)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        """The run id of the card this cell showed."""
        for message in self.displays:
            found = RUN_ID.search(message["data"].get("text/html", ""))
            if found:
                return found.group(1)
        raise AssertionError(f"no run card in {self.displays!r}")

    def final_card(self) -> str:
        """The HTML of the card as the frontend shows it at the end (updates applied)."""
        cards = [m["data"]["text/html"] for m in self.displays if "text/html" in m["data"]]
        assert cards, "no card displayed"
        return cards[-1]


class Kernel:
    """A started kernel and a blocking client (a small frontend for tests)."""

    def __init__(self, folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.notebook = folder / "nb.ipynb"
        env = {
            **os.environ,
            "MLWS_WORKSPACE": str(folder / "ws"),
            "JPY_SESSION_NAME": str(self.notebook),
            **(extra_env or {}),
        }
        env.pop("MLWS_RUN_ID", None)
        self.kernel_id = str(uuid.uuid4())
        # named as jupyter_server names it, so the kernel can tell its own id
        connection_file = os.path.join(jupyter_runtime_dir(), f"kernel-{self.kernel_id}.json")
        os.makedirs(os.path.dirname(connection_file), exist_ok=True)
        self.manager = KernelManager(
            kernel_name="python3", kernel_id=self.kernel_id, connection_file=connection_file
        )
        self.manager.start_kernel(env=env, cwd=str(folder))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(
        self,
        code: str,
        *,
        timeout: float = 60,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        cell_id: str | None = None,
        deleted_cells: list[str] | None = None,
    ) -> Reply:
        """Run `code` (as notebook cell `cell_id`, as JupyterLab sends it, with the ids of cells
        deleted since the last request as its `deletedCells`), collect its output until idle."""
        if cell_id is None and deleted_cells is None:
            msg_id = self.client.execute(code)
        else:
            content = {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            request = self.client.session.msg("execute_request", content)
            if cell_id is not None:
                request["metadata"]["cellId"] = cell_id
            if deleted_cells is not None:
                request["metadata"]["deletedCells"] = deleted_cells
            self.client.shell_channel.send(request)
            msg_id = request["header"]["msg_id"]
        reply = Reply()
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                pytest.fail(f"no answer from the kernel within {timeout} s for {code!r}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if on_message is not None:
                on_message(msg)
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "error", "execute_result", "display_data"):
                reply.outputs.append({"output_type": kind, **content})
            if kind == "stream":
                if content["name"] == "stdout":
                    reply.stdout += content["text"]
                else:
                    reply.stderr += content["text"]
            elif kind == "error":
                reply.ename = content["ename"]
                reply.error = ANSI.sub("", "\n".join(content["traceback"]))
            elif kind == "execute_result":
                reply.result = content["data"]
            elif kind in ("display_data", "update_display_data"):
                reply.displays.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:  # skip replies to earlier requests (wait_for_ready's kernel_info)
            shell_reply = self.client.get_shell_msg(timeout=timeout)
            if shell_reply["parent_header"].get("msg_id") == msg_id:
                break
        reply.status = shell_reply["content"]["status"]
        reply.execution_count = shell_reply["content"].get("execution_count")
        reply.payload = shell_reply["content"].get("payload", [])
        return reply

    def ok(self, code: str, **kwargs: Any) -> Reply:
        """Run `code` and fail the test if it raised."""
        reply = self.execute(code, **kwargs)
        assert reply.ename == "", reply.error
        return reply

    def close(self, *, graceful: bool = False) -> None:
        """Stop the kernel: `graceful` sends a shutdown request (the kernel's exit hooks run)."""
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=not graceful)


def store_of(folder: Path):
    """The test's own view of the kernel's workspace (a second process on the same SQLite file)."""
    return open_store(f"sqlite:///{folder / 'ws' / 'mlws.db'}")


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """One kernel with the extension loaded, shared by the tests of a module."""
    started = Kernel(tmp_path_factory.mktemp("nbk"))
    try:
        started.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        yield started
    finally:
        started.close()
