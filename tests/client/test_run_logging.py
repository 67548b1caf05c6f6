"""Azure ML's loggers on our runs: log_image (shown in the run view as a PNG), log_list (a metric
series), log_row (a table), and `mlws.last_run()`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound


def _png_pixels(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(path)  # reads PNG itself (no PIL needed): floats 0..1


def test_log_image_stores_arrays_figures_files_and_png_bytes(ws, tmp_path: Path) -> None:
    import jupyter_mlws as mlws

    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[:, :3] = (255, 0, 0)
    rgb[:, 3:] = (0, 0, 255)
    grey = np.linspace(0, 1, 20).reshape(4, 5)
    with mlws.start_run(experiment="images") as run:
        record = mlws.log_image("confusion", rgb)
        mlws.log_image("ramp", grey)
        mlws.log_image("mask", grey > 0.5)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [1, 0])
        run.log_image("roc", fig)
        plt.close(fig)
        png = run.download_artifacts("images/confusion.png", tmp_path / "dl")
        run.log_image("copied", png)
        run.log_image("raw-bytes", png.read_bytes())
    assert record.path == "images/confusion.png"
    paths = set(run.artifacts()["path"])
    assert {f"images/{n}.png" for n in ("confusion", "ramp", "mask", "roc", "copied", "raw-bytes")} <= paths
    got = _png_pixels(run.download_artifacts("images/confusion.png", tmp_path / "a"))
    assert got.shape == (4, 6, 3)
    np.testing.assert_array_equal((got * 255).round().astype(np.uint8), rgb)
    ramp = _png_pixels(run.download_artifacts("images/ramp.png", tmp_path / "b"))
    assert ramp.shape == (4, 5) and np.abs(ramp - grey).max() <= 0.5 / 255 + 1e-6
    mask = _png_pixels(run.download_artifacts("images/mask.png", tmp_path / "c"))
    np.testing.assert_array_equal(mask > 0.5, grey > 0.5)
    roc = run.download_artifacts("images/roc.png", tmp_path / "d")
    assert roc.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_log_image_refuses_what_is_not_an_image(ws, tmp_path: Path) -> None:
    run = ws.start_run(experiment="images")
    try:
        for bad, message in (
            (np.zeros((2, 2, 2)), "H×W"),
            (np.array([[np.nan]]), "NaN"),
            (np.array([[300]]), "0..255"),
            (b"GIF89a", "PNG"),
            ({"not": "an image"}, "not dict"),
        ):
            with pytest.raises(InvalidParameter, match=message):
                run.log_image("bad", bad)
        with pytest.raises(NotFound):
            run.log_image("bad", tmp_path / "missing.png")
        with pytest.raises(InvalidParameter, match="one file name"):
            run.log_image("../escape", np.zeros((1, 1)))
        assert run.artifacts().empty  # nothing half-written
    finally:
        run.end()


def test_log_list_is_one_metric_series_and_log_row_builds_a_table(ws) -> None:
    import jupyter_mlws as mlws

    with mlws.start_run(experiment="tables") as run:
        mlws.log_list("accuracies", [0.5, 0.75, 0.875])
        mlws.log_row("epochs", epoch=1, loss=0.9, note="warm-up")
        mlws.log_row("epochs", epoch=2, loss=np.float64(0.4), note=None)
    history = run.metric_history("accuracies")
    assert list(history["step"]) == [0, 1, 2] and list(history["value"]) == [0.5, 0.75, 0.875]
    assert run.metrics["accuracies"] == 0.875
    # another process (a new Run object on the same run) appends; nothing is dropped
    again = ws.get_run(run.id)
    again.log_row("epochs", epoch=3, loss=float("nan"), note="diverged")
    rows = json.loads(again.download_artifacts("tables/epochs.json", ws.location.workspace + "/dl").read_text())
    assert rows == [
        {"epoch": 1, "loss": 0.9, "note": "warm-up"},
        {"epoch": 2, "loss": 0.4, "note": None},
        {"epoch": 3, "loss": "nan", "note": "diverged"},
    ]
    with pytest.raises(InvalidParameter, match="column 'weights' holds a list"):
        again.log_row("epochs", weights=[1, 2])
    with pytest.raises(InvalidParameter, match="at least one column"):
        again.log_row("epochs")
    with pytest.raises(InvalidParameter, match="list of numbers"):
        again.log_list("accuracies", "0.5")


def test_last_run_is_the_last_top_level_run_of_this_process(ws) -> None:
    import jupyter_mlws as mlws

    with mlws.start_run(experiment="last") as first:
        assert mlws.last_run() is first  # while it runs
        child = mlws.start_run(nested=True)
        child.end()
        assert mlws.last_run() is first  # a child run is not "the last run"
    assert mlws.last_run() is first and first.status == "completed"
    second = mlws.start_run(experiment="last")
    second.end()
    assert mlws.last_run() is second
