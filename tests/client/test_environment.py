"""The environment a run records: what a user finds in `environment.json` and the run's tags.

Real git repositories made in tmp with the `git` program (skipped where it is not installed), real
installed packages, a real SQLite workspace.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlws.client.environment import capture_environment, environment_tags, record_environment

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="the git program is not installed")


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    done = subprocess.run(
        [GIT or "git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / "train.py").write_text("print('v1')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_the_environment_describes_this_python_and_machine(tmp_path: Path) -> None:
    env = capture_environment(tmp_path)
    assert env["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert env["platform"]["system"] == platform.system() and env["platform"]["machine"]
    assert env["host"] and env["cpu"]["count"] == os.cpu_count()
    assert isinstance(env["gpus"], list)
    for gpu in env["gpus"]:
        assert set(gpu) == {"index", "name", "memory_mb"}
    packages = env["packages"]
    assert packages.get("jupyter-mlws") or packages.get("jupyter_mlws")
    import pandas

    assert packages.get("pandas") == pandas.__version__
    json.dumps(env)  # JSON-ready as it is


@needs_git
def test_git_commit_branch_and_dirty_flag_follow_the_repository(repo: Path) -> None:
    env = capture_environment(repo)
    head = git(repo, "rev-parse", "HEAD")
    assert env["git"] == {"commit": head, "branch": "main", "dirty": False, "remote": None}
    assert environment_tags(env)["mlws.git.dirty"] == "false"

    (repo / "notes.txt").write_text("untracked files do not make the tree dirty")
    assert capture_environment(repo / ".")["git"]["dirty"] is False
    (repo / "train.py").write_text("print('v2')\n")  # an edit to a tracked file does
    dirty = capture_environment(repo)
    assert dirty["git"]["dirty"] is True
    assert environment_tags(dirty)["mlws.git.dirty"] == "true"
    git(repo, "commit", "-q", "-am", "second")
    clean = capture_environment(repo)["git"]
    assert clean["dirty"] is False and clean["commit"] == git(repo, "rev-parse", "HEAD") != head

    # from a subfolder too; detached HEAD has no branch
    (repo / "src").mkdir()
    git(repo, "checkout", "-q", "--detach")
    assert capture_environment(repo / "src")["git"]["branch"] is None


@needs_git
def test_the_remote_url_never_carries_a_secret(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://alice:s3cret@example.com/team/project.git")
    git(repo, "remote", "add", "backup", "https://ghp_TOKEN123@example.com/team/project.git")
    remote = capture_environment(repo)["git"]["remote"]
    assert remote == "https://alice:***@example.com/team/project.git"
    git(repo, "remote", "remove", "origin")
    assert capture_environment(repo)["git"]["remote"] == "https://***@example.com/team/project.git"
    git(repo, "remote", "set-url", "backup", "git@example.com:team/project.git")
    assert capture_environment(repo)["git"]["remote"] == "git@example.com:team/project.git"


@needs_git
def test_outside_a_repository_git_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    env = capture_environment(folder)
    assert env["git"] is None
    assert "mlws.git.commit" not in environment_tags(env)


def test_a_package_installed_meanwhile_shows_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()

    def install(name: str, version: str) -> None:
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")

    install("mlws-fake-one", "1.0")
    monkeypatch.syspath_prepend(str(site))
    assert capture_environment(tmp_path)["packages"]["mlws-fake-one"] == "1.0"
    assert "mlws-fake-two" not in capture_environment(tmp_path)["packages"]
    install("mlws-fake-two", "2.5")  # a pip install into a folder already on sys.path
    os.utime(site, ns=(os.stat(site).st_atime_ns, os.stat(site).st_mtime_ns + 1_000_000_000))
    assert capture_environment(tmp_path)["packages"]["mlws-fake-two"] == "2.5"


@needs_git
def test_record_environment_stores_the_artifact_and_tags(ws, repo: Path, tmp_path: Path) -> None:
    run = ws.start_run("env")
    env = record_environment(run, cwd=repo)
    run.end()
    assert "environment.json" in list(run.artifacts()["path"])
    stored = json.loads(run.download_artifacts("environment.json", tmp_path / "down").read_text())
    assert stored == env
    tags = run.tags
    assert tags["mlws.python"] == platform.python_version()
    assert tags["mlws.host"] == env["host"]
    assert tags["mlws.git.commit"] == git(repo, "rev-parse", "HEAD")
    assert tags["mlws.git.dirty"] == "false"
    # a given environment is stored as it is (the finalizer captures it once)
    other = ws.start_run("given")
    assert record_environment(other, env={"host": "elsewhere", "git": None}) == {
        "host": "elsewhere",
        "git": None,
    }
    assert other.tags["mlws.host"] == "elsewhere" and "mlws.git.dirty" not in other.tags


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in nvidia-smi is a shell script")
def test_gpus_are_read_from_nvidia_smi_when_nvml_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        import pynvml  # noqa: F401

        pytest.skip("pynvml is installed here, so NVML (not nvidia-smi) answers")
    except ImportError:
        pass
    from jupyter_mlws.client import environment

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"  # a machine without GPUs here: a stand-in that prints what the real one does
    smi.write_text(
        "#!/bin/sh\n"
        'test "$1" = "--query-gpu=index,name,memory.total" || exit 2\n'
        "printf '0, NVIDIA H100 80GB HBM3, 81559\\n1, NVIDIA H100 80GB HBM3, 81559\\n'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(environment, "_hardware_cache", None)  # GPUs are read once per process
    assert capture_environment(tmp_path)["gpus"] == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mb": 81559},
        {"index": 1, "name": "NVIDIA H100 80GB HBM3", "memory_mb": 81559},
    ]
