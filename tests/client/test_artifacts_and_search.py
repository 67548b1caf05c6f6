"""Artifacts through a run (text, dict, table, figure, folders, logs) and run search into pandas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import jupyter_mlws as mlws
from jupyter_mlws.errors import InvalidParameter


def test_artifact_helpers_store_readable_files(ws, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("BB")
    table = pd.DataFrame({"id": [1, 2, 3], "score": [0.5, float("nan"), 1e308]})
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with ws.start_run("art") as run:
        run.log_artifacts(folder, "outputs")
        run.log_dict({"lr": 0.01, "bad": float("inf")}, "config.json")
        run.log_table(table, "predictions")
        run.log_figure(fig, "plots/roc")
        run.log_output("epoch 1\n")
        run.log_output("warning!\n", "stderr.txt")
    plt.close(fig)
    paths = list(run.artifacts()["path"])
    assert paths == [
        "config.json",
        "logs/output.txt",
        "logs/stderr.txt",
        "outputs/a.txt",
        "outputs/sub/b.txt",
        "plots/roc.png",
        "predictions.parquet",
    ]
    dest = run.download_artifacts("", tmp_path / "down")
    assert json.loads((dest / "config.json").read_text()) == {"lr": 0.01, "bad": "inf"}
    assert (dest / "outputs" / "sub" / "b.txt").read_text() == "BB"
    assert (dest / "plots" / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pd.testing.assert_frame_equal(pd.read_parquet(dest / "predictions.parquet"), table)
    assert run.logs() == "epoch 1\nwarning!\n"
    only = run.download_artifacts("outputs", tmp_path / "only")
    assert (only / "outputs" / "a.txt").exists() or (only / "a.txt").exists()
    assert list(run.artifacts("outputs")["path"]) == ["outputs/a.txt", "outputs/sub/b.txt"]


def test_table_as_csv_when_asked(ws, tmp_path: Path) -> None:
    with ws.start_run("art") as run:
        record = run.log_table(pd.DataFrame({"a": [1]}), "t.csv")
    assert record.path == "t.csv"
    assert (run.download_artifacts("", tmp_path / "d") / "t.csv").read_text().splitlines() == ["a", "1"]


def test_artifact_paths_cannot_escape(ws) -> None:
    with ws.start_run("art") as run:
        for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
            with pytest.raises(InvalidParameter):
                run.log_text("x", bad)
    assert run.artifacts().empty


def _make_runs(ws) -> list[str]:
    ids = []
    for i, (lr, acc) in enumerate([("0.01", 0.95), ("0.1", 0.7), ("0.01", 0.92)]):
        with mlws.start_run(experiment="churn", name=f"r{i}", tags={"team": "a" if i else "b"}) as run:
            mlws.log_param("lr", lr)
            mlws.log_metric("acc", acc, step=1)
        ids.append(run.id)
    with mlws.start_run(experiment="other", name="x"):
        mlws.log_metric("acc", 0.99)
    return ids


def test_runs_frame_has_the_documented_columns(ws) -> None:
    _make_runs(ws)
    frame = ws.runs(
        experiment="churn", filter="metrics.acc > 0.9 and params.lr = '0.01'", order_by=["metrics.acc asc"]
    )
    assert list(frame.columns) == [
        "run_id",
        "experiment",
        "name",
        "status",
        "start_time",
        "end_time",
        "duration",
        "params.lr",
        "metrics.acc",
        "tags.team",
    ]
    assert list(frame["name"]) == ["r2", "r0"]
    assert list(frame["metrics.acc"]) == [0.92, 0.95]
    assert set(frame["status"]) == {"completed"} and (frame["duration"] >= 0).all()
    assert str(frame["start_time"].dt.tz) == "UTC"
    everything = mlws.search_runs()
    assert len(everything) == 4 and set(everything["experiment"]) == {"churn", "other"}
    assert mlws.search_runs(experiment="missing").empty


def test_paging_through_a_frame(ws) -> None:
    _make_runs(ws)
    first = ws.runs(order_by=["name asc"], limit=3)
    assert list(first["name"]) == ["r0", "r1", "r2"]
    second = ws.runs(order_by=["name asc"], limit=3, page_token=first.attrs["next_page_token"])
    assert list(second["name"]) == ["x"] and second.attrs["next_page_token"] is None


def test_bad_filter_names_the_position(ws) -> None:
    with pytest.raises(InvalidParameter, match="position 13"):
        ws.runs(filter="metrics.acc >> 1")
