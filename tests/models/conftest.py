"""Registry fixtures: a real workspace folder (SQLite + local artifact store) and real scikit-learn models."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Workspace in a temp folder (no $MLWS_WORKSPACE or run id leaking in from the caller)."""
    import jupyter_mlws as mlws

    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    monkeypatch.delenv("MLWS_RUN_ID", raising=False)
    workspace = mlws.Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def frame():
    """A small tabular data set: two numeric features, an integer one, a label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 2))
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=80),
            "income": x[:, 0] * 1000 + 5000,
            "score": x[:, 1],
            "label": (x[:, 0] + x[:, 1] > 0).astype(int),
        }
    )


@pytest.fixture(scope="session")
def features(frame):
    return frame[["age", "income", "score"]]


@pytest.fixture(scope="session")
def logreg(frame, features):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(features, frame["label"])


@pytest.fixture
def skops_file(tmp_path: Path, logreg) -> Path:
    from jupyter_mlws.models import save_sklearn

    return save_sklearn(logreg, tmp_path / "src" / "model.skops")
