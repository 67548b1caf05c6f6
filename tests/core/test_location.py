"""Workspace resolution: arguments, $MLWS_WORKSPACE, the default, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlws import MLWSError, resolve_location
from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.location import redact_url


def test_default_is_dot_mlws_under_the_base_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    loc = resolve_location(base_dir=tmp_path)
    assert loc.workspace == str(tmp_path / ".mlws")
    assert loc.store_url == f"sqlite:///{tmp_path}/.mlws/mlws.db"
    assert loc.artifact_url == str(tmp_path / ".mlws" / "artifacts")
    assert loc.store_kind == "sqlite"
    assert loc.is_local


def test_environment_variable_wins_over_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "shared-ws"))
    assert resolve_location(base_dir="/elsewhere").workspace == str(tmp_path / "shared-ws")


def test_explicit_argument_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLWS_WORKSPACE", "/from/env")
    assert resolve_location("mine", base_dir=tmp_path).workspace == str(tmp_path / "mine")


def test_http_workspace_is_a_rest_store(monkeypatch: pytest.MonkeyPatch) -> None:
    loc = resolve_location("http://127.0.0.1:8888/base/")
    assert loc.store_kind == "rest"
    assert loc.workspace == "http://127.0.0.1:8888/base"
    assert not loc.is_local


def test_separate_store_and_artifact_urls(tmp_path: Path) -> None:
    loc = resolve_location(
        tmp_path, store_url="postgresql+psycopg://u:pw@db/mlws", artifact_url="s3://bucket/mlws"
    )
    assert loc.store_kind == "postgresql"
    described = loc.describe()
    assert described["store_url"] == "postgresql+psycopg://u:***@db/mlws"
    assert "pw" not in str(described)
    assert described["artifact_url"] == "s3://bucket/mlws"


@pytest.mark.parametrize(
    "workspace, store_url, fragment",
    [
        ("ftp://host/ws", None, "unsupported scheme 'ftp'"),
        (None, "mysql://u@h/db", "is not supported"),
    ],
)
def test_unsupported_urls_name_the_problem(tmp_path: Path, workspace, store_url, fragment) -> None:
    with pytest.raises(InvalidParameter, match=fragment) as caught:
        resolve_location(workspace or tmp_path, store_url=store_url)
    assert isinstance(caught.value, MLWSError)
    assert caught.value.http_status == 400


def test_redaction_keeps_urls_without_password() -> None:
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact_url("/plain/path") == "/plain/path"
    assert redact_url("https://:tok@host:9/p?q=1") == "https://***@host:9/p?q=1"
