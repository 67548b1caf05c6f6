"""A wheel built from a clean tree carries the prebuilt labextension and the server config,
and installs without node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.slow


def _clean_tree(dest: Path) -> Path:
    """Copy the files git knows (tracked + untracked, not ignored): no build output."""
    if not (REPO / ".git").exists():
        pytest.skip("the packaging test copies the tree git knows; this checkout has no .git")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    assert not (dest / "jupyter_mlws" / "labextension").exists()
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = _clean_tree(base / "src")
    env = {**os.environ, "YARN_CACHE_FOLDER": str(REPO / ".yarn" / "cache"),
           "YARN_GLOBAL_FOLDER": str(base / "yarn-global")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(base / "dist"), str(src)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    wheels = list((base / "dist").glob("jupyter_mlws-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_carries_labextension_and_server_config(wheel: Path) -> None:
    version = json.loads((REPO / "package.json").read_text())["version"]
    assert wheel.name.startswith(f"jupyter_mlws-{version}-")
    data = f"jupyter_mlws-{version}.data/data"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        ext = f"{data}/share/jupyter/labextensions/jupyter-mlws"
        assert f"{ext}/package.json" in names
        assert f"{ext}/install.json" in names
        assert f"{ext}/static/style.js" in names
        assert any(n.startswith(f"{ext}/static/remoteEntry.") and n.endswith(".js") for n in names)
        config = f"{data}/etc/jupyter/jupyter_server_config.d/jupyter_mlws.json"
        assert json.loads(zf.read(config)) == {"ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}}}
        built = json.loads(zf.read(f"{ext}/package.json"))
        assert built["name"] == "jupyter-mlws" and built["version"] == version
        assert "jupyter_mlws/_version.py" in names
        assert f"__version__ = VERSION = '{version}'" in zf.read("jupyter_mlws/_version.py").decode()
        assert not any("node_modules" in n or n.startswith("labextension/") for n in names)
        # The notebook widgets' ES modules (uPlot bundled in): no CDN at run time.
        for bundle in ("metric_chart", "run_details", "run_history", "registry"):
            source = zf.read(f"jupyter_mlws/widgets/static/{bundle}.js").decode()
            assert "export" in source and "uplot" in source.lower()
            assert "https://" not in source.replace("https://github.com", "")


def test_wheel_installs_where_node_is_absent(wheel: Path, tmp_path: Path) -> None:
    # Shadow every node tool with a trap that records being called.
    traps, called = tmp_path / "traps", tmp_path / "node-was-called"
    traps.mkdir()
    for tool in ("node", "nodejs", "npm", "npx", "yarn", "jlpm"):
        trap = traps / tool
        trap.write_text(f"#!/bin/sh\necho {tool} >> {called}\nexit 97\n")
        trap.chmod(0o755)
    env = {**os.environ, "PATH": f"{traps}{os.pathsep}{os.environ['PATH']}"}
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--ignore-installed",
         "--prefix", str(prefix), str(wheel)],
        env=env, check=True, capture_output=True, timeout=300,
    )
    ext = prefix / "share" / "jupyter" / "labextensions" / "jupyter-mlws"
    assert json.loads((ext / "package.json").read_text())["name"] == "jupyter-mlws"
    assert (prefix / "etc" / "jupyter" / "jupyter_server_config.d" / "jupyter_mlws.json").is_file()
    assert not called.exists(), f"installing the wheel ran {called.read_text()}"
    site = next(prefix.glob("lib/python*/site-packages"))
    # The installed package answers Jupyter's discovery hooks with the files it shipped.
    probe = (
        "import jupyter_mlws, json; "
        "print(json.dumps([jupyter_mlws.__file__, jupyter_mlws._jupyter_labextension_paths()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env={**env, "PYTHONPATH": str(site)}, cwd=tmp_path,
        capture_output=True, text=True, check=True,
    ).stdout
    module_file, paths = json.loads(out)
    assert module_file.startswith(str(site))
    assert paths == [{"src": "labextension", "dest": "jupyter-mlws"}]
    # Installing into another prefix must leave this environment's install alone.
    here = subprocess.run(
        [sys.executable, "-c", "import jupyter_mlws; print(jupyter_mlws.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert here == str(REPO / "jupyter_mlws" / "__init__.py")


def test_the_test_environment_is_the_locked_one() -> None:
    """`make test` installs with the committed lock (tests/constraints.txt): the suite runs on the
    versions the last green CI ran, not on whatever a fresh machine's pip picks that day."""
    import importlib.metadata
    import re

    from packaging.utils import canonicalize_name

    pinned = {}
    for line in (REPO / "tests" / "constraints.txt").read_text().splitlines():
        found = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        if found:
            pinned[canonicalize_name(found.group(1))] = found.group(2)
    assert {"numpy", "scikit-learn", "pandas", "jupyter-server"} <= set(pinned)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    drift = {name: (want, installed.get(name)) for name, want in pinned.items() if installed.get(name) != want}
    assert not drift, f"installed versions differ from the lock (run `make test`, or `make lock`): {drift}"
