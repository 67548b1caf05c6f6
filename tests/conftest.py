"""Shared fixtures: a real jupyter_server with the extension (pytest-jupyter)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from . import catalogue

pytest_plugins = ("pytest_jupyter.jupyter_server",)

REPO = Path(__file__).resolve().parents[1]

# Keep every piece of Jupyter/IPython state out of $HOME, whoever runs pytest.
_STATE = Path(os.environ.get("MLWS_TEST_STATE") or tempfile.mkdtemp(prefix="mlws-test-state-"))
for _var, _sub in (
    ("JUPYTER_CONFIG_DIR", "config"),
    ("JUPYTER_DATA_DIR", "data"),
    ("JUPYTER_RUNTIME_DIR", "runtime"),
    ("IPYTHONDIR", "ipython"),
):
    os.environ.setdefault(_var, str(_STATE / _sub))
os.environ.pop("MLWS_WORKSPACE", None)


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    """Enable the extension and require authentication for everything."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlws": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def jp_serverapp(jp_serverapp, jp_asyncio_loop):
    """The plugin's server, with extensions started as `jupyter lab` would.

    pytest-jupyter initialises the server but never runs its post-start hook;
    run it so the extension's async start (background tasks) is exercised.
    """
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse, before `-m` selects, a `catalogue` mark that names no line of the catalogue:
    a mistyped ID would otherwise count as coverage of nothing (tests/catalogue.py)."""
    marked = [(item, mark) for item in items for mark in item.iter_markers(catalogue.MARK)]
    if not marked:
        return
    try:
        lines = catalogue.read_catalogue()
    except OSError:
        return  # no ../shared beside the clone: tests/test_catalogue.py says so, the rest still runs
    except ValueError as err:
        raise pytest.UsageError(f"the catalogue marks cannot be checked: {err}") from err
    problems: dict[str, str] = {}
    for item, mark in marked:
        test = item.nodeid.split("[")[0]  # one message for all parameters of a test
        if not mark.args or mark.kwargs or not all(isinstance(i, str) for i in mark.args):
            problems[test] = f"{test}: catalogue() takes line IDs as strings, e.g. catalogue('A4', 'A5')"
        elif unknown := [i for i in mark.args if i not in lines]:
            problems[test] = f"{test}: {', '.join(unknown)} is not a line of {catalogue.CATALOGUE}"
    if problems:
        raise pytest.UsageError("unknown reliability catalogue IDs:\n" + "\n".join(problems.values()))


from .canary import canary  # noqa: E402,F401  (a shared fixture)
from .dask_processes import outside_scheduler  # noqa: E402,F401  (a shared fixture)
from .live_server import live_server  # noqa: E402,F401  (a shared fixture)
from .services import postgres_server, postgresql_url, s3_server  # noqa: E402,F401  (shared fixtures)
