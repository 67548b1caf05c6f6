"""`mlws.diff(a, b)` / `ws.diff(a, b)` as a user meets it: every part names what changed, nothing else.

Real SQLite workspace and local artifact store; runs are written through the public API (params,
metrics, tags, artifacts) and the snapshot and environment recorders the `%%mlrun` finalizer uses,
with notebooks built for the purpose (tests/repro/notebooks.py). Nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlws as mlws
from jupyter_mlws.client.environment import capture_environment, record_environment
from jupyter_mlws.client.snapshot import take_snapshot
from jupyter_mlws.errors import NotFound

from .notebooks import code_cell, many_cells, markdown_cell, notebook, png

ENV = capture_environment()


def environment(**changes: Any) -> dict[str, Any]:
    env = json.loads(json.dumps(ENV))
    env["packages"] = {"numpy": "2.1.0", "pandas": "2.2.3", "scipy": "1.14.1"}
    for key, value in changes.items():
        env[key] = value
    return env


def make_run(
    ws,
    project: Path,
    name: str,
    *,
    files: dict[str, str],
    nb: dict[str, Any] | None,
    history: list[tuple[int, str]] = (),
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    curve: list[float] = (),
    env: dict[str, Any] | None = None,
    log: str | None = None,
):
    for child in project.glob("*"):
        child.unlink()
    for rel, text in files.items():
        (project / rel).write_text(text)
    nb_path = None
    if nb is not None:
        nb_path = project / "analysis.ipynb"
        nb_path.write_text(json.dumps(nb))
    run = ws.start_run("diffs", name)
    run.log_params(params or {})
    if tags:
        run.set_tags(tags)
    for step, value in enumerate(curve):
        run.log_metric("loss", value, step=step)
    if log is not None:
        run.log_text(log, "logs/output.txt")
    if env is not None:
        record_environment(run, env=env)
    take_snapshot(run, project, notebook_path=str(nb_path) if nb_path else None, history=list(history))
    run.end()
    return run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_diff_names_what_changed_in_every_part(ws, project: Path) -> None:
    nb_a = notebook(
        [
            markdown_cell("intro", "# Churn"),
            code_cell("load", "df = load()", stdout="1000 rows\n", count=1),
            code_cell("fit", "model = fit(df, lr)", result="Model(lr=0.1)", count=2),
            code_cell("plot", "plot(model)", image=png(10), count=3),
            code_cell("gone", "print('old')", stdout="old\n", count=4),
        ]
    )
    nb_b = notebook(
        [
            markdown_cell("intro", "# Churn"),
            code_cell("load", "df = load()", stdout="1000 rows\n", count=1),
            code_cell("fit", "model = fit(df, lr * 2)", result="Model(lr=0.2)", count=2),
            code_cell("plot", "plot(model)", image=png(200), count=3),
            code_cell("new", "print('new')", stdout="new\n", count=4),
        ]
    )
    a = make_run(
        ws,
        project,
        "a",
        files={"train.py": "lr = 0.1\nepochs = 3\n", "util.py": "X = 1\n", "old.txt": "bye\n"},
        nb=nb_a,
        history=[(1, "df = load()"), (2, "model = fit(df, lr)"), (3, "plot(model)")],
        params={"lr": 0.1, "epochs": 3, "dropped": "x"},
        tags={"team": "a", "same": "s"},
        curve=[1.0, 0.5, 0.25, 0.125],
        env=environment(),
        log="epoch 1\nloss 0.125\n",
    )
    b = make_run(
        ws,
        project,
        "b",
        files={"train.py": "lr = 0.2\nepochs = 3\n", "util.py": "X = 1\n", "new.txt": "hi\n"},
        nb=nb_b,
        history=[(1, "df = load()"), (2, "plot(model)"), (3, "model = fit(df, lr * 2)"), (4, "plot(model)")],
        params={"lr": 0.2, "epochs": 3, "added": "y"},
        tags={"team": "b", "same": "s"},
        curve=[1.0, 0.5, 0.3, 0.2],
        env=environment(packages={"numpy": "2.2.0", "pandas": "2.1.0", "torch": "2.5.0"}),
        log="epoch 1\nloss 0.2\n",
    )
    diff = mlws.diff(a, b)
    assert not diff.identical

    params = diff.params.set_index("key")
    assert params.loc["lr", "change"] == "changed" and (params.loc["lr", "a"], params.loc["lr", "b"]) == (
        "0.1",
        "0.2",
    )
    assert params.loc["added", "change"] == "added" and params.loc["dropped", "change"] == "removed"
    assert "epochs" not in params.index  # the same in both: not a difference

    loss = diff.metrics.set_index("key").loc["loss"]
    assert loss["change"] == "changed" and loss["parts_at_step"] == 2 and loss["b"] == 0.2

    assert diff.tags.set_index("key")["change"].to_dict() == {"team": "changed"}

    env = diff.environment.set_index("item")["change"].to_dict()
    assert env == {
        "package numpy": "upgraded",
        "package pandas": "downgraded",
        "package scipy": "removed",
        "package torch": "added",
    }

    code = diff.code.set_index("path")
    assert code["change"].to_dict() == {
        "analysis.ipynb": "changed",
        "new.txt": "added",
        "old.txt": "removed",
        "train.py": "changed",
    }
    assert (
        "-lr = 0.1\n+lr = 0.2\n" in code.loc["train.py", "diff"] and "epochs" in code.loc["train.py", "diff"]
    )
    assert "cells part" in code.loc["analysis.ipynb", "diff"]

    cells = diff.cells.set_index("cell_id")
    assert cells["change"].to_dict() == {
        "fit": "source, outputs",
        "plot": "outputs",
        "gone": "removed",
        "new": "added",
    }
    assert "-model = fit(df, lr)\n+model = fit(df, lr * 2)\n" in cells.loc["fit", "source_diff"]
    assert "-Model(lr=0.1)\n+Model(lr=0.2)\n" in cells.loc["fit", "output_diff"]
    assert cells.loc["plot", "output_diff"] == ""  # only the image changed, its text did not
    assert [(i["cell_id"], i["a"] == png(10), i["b"] == png(200)) for i in diff.images] == [
        ("plot", True, True)
    ]

    history = diff.history.set_index("cell_id")
    assert history.loc["load", "change"] == "same"
    assert (history.loc["plot", "count_a"], history.loc["plot", "count_b"]) == (1, 2)
    assert history.loc["plot", "order_b"] == "2,4" and history.loc["plot", "change"] == "count"
    assert history.loc["fit", "change"] == "order"  # ran 2nd in a, 3rd in b
    assert diff.changed("history") == 2

    artifacts = diff.artifacts.set_index("path")
    assert list(artifacts.index) == ["logs/output.txt"]
    assert "-loss 0.125\n+loss 0.2\n" in artifacts.loc["logs/output.txt", "diff"]

    summary = diff.summary()
    for part in ("params: 3 differ", "metrics: 1 differs", "cells: 4 differ", "environment: 4 differ"):
        assert part in summary
    json.dumps(diff.to_dict())  # every part is JSON-ready (the REST answer and `--json`)


def test_a_run_compared_with_itself_is_identical_and_missing_parts_are_notes(ws, project: Path) -> None:
    a = make_run(
        ws,
        project,
        "a",
        files={"train.py": "x = 1\n"},
        nb=many_cells(3, 1),
        params={"lr": 1},
        curve=[1.0, 0.5],
        env=environment(),
        history=[(1, "x0 = 0 * 1\nprint(x0)")],
    )
    same = ws.diff(a.id, a.id)
    assert same.identical and same.summary().endswith("identical")
    assert all(len(same.parts[p]) == 0 for p in ("params", "metrics", "code", "cells", "environment"))

    bare = ws.start_run("diffs", "bare")  # no snapshot, no environment: what a plain script run has
    bare.log_param("lr", 1)
    bare.end()
    diff = ws.diff(a, bare)
    assert any("has no code snapshot" in note and bare.id in note for note in diff.notes)
    assert any("has no recorded environment" in note for note in diff.notes)
    assert diff.environment.empty  # unknown is not "every package removed"
    assert set(diff.code["change"]) == {"removed"}
    assert set(diff.cells["change"]) == {"removed"}

    with pytest.raises(NotFound):
        ws.diff(a.id, "no-such-run")


def test_two_hundred_cells_with_every_output_changed(ws, project: Path) -> None:
    a = make_run(ws, project, "a", files={}, nb=many_cells(200, 1))
    b = make_run(ws, project, "b", files={}, nb=many_cells(200, 2))
    diff = ws.diff(a, b)
    assert len(diff.cells) == 200 and set(diff.cells["change"]) == {"outputs"}
    row = diff.cells.set_index("cell_id").loc["c7"]
    assert (
        "-run 1: x7 = 7\n+run 2: x7 = 14\n" in row["output_diff"] and " second line\n" in row["output_diff"]
    )
    assert row["source_diff"] == ""

    c = make_run(ws, project, "c", files={}, nb=many_cells(200, 2, change_sources=True))
    diff = ws.diff(a, c)
    assert set(diff.cells["change"]) == {"source, outputs"}
    assert "-x3 = 3 * 1\n+x3 = 3 * 2\n" in diff.cells.set_index("cell_id").loc["c3", "source_diff"]
    assert ws.diff(b, c).cells["change"].tolist() == ["source"] * 200  # same outputs, new code


def test_moved_and_reordered_cells_are_matched_by_id(ws, project: Path) -> None:
    cells = [code_cell(f"k{i}", f"step{i}()", stdout=f"{i}\n") for i in range(5)]
    a = make_run(ws, project, "a", files={}, nb=notebook(cells))
    moved = [cells[0], cells[3], cells[1], cells[2], cells[4]]
    b = make_run(ws, project, "b", files={}, nb=notebook(moved))
    assert ws.diff(a, b).cells.empty  # the same cells with the same outputs, in another order
    no_ids = [{k: v for k, v in c.items() if k != "id"} for c in cells]
    no_ids[2] = code_cell("x", "step2()", stdout="two\n")
    no_ids[2].pop("id")
    c = make_run(
        ws, project, "c", files={}, nb=notebook([{k: v for k, v in c.items() if k != "id"} for c in cells])
    )
    d = make_run(ws, project, "d", files={}, nb=notebook(no_ids))
    assert ws.diff(c, d).cells[["cell_id", "change"]].values.tolist() == [["#3", "outputs"]]


def test_metric_curves_part_where_they_first_differ(ws, project: Path) -> None:
    base = [1.0 / (s + 1) for s in range(100)]
    a = make_run(ws, project, "a", files={}, nb=None, curve=base)
    noise = [v * (1 + 1e-13) for v in base]  # a float written and read back: the same value
    assert ws.diff(a, make_run(ws, project, "b", files={}, nb=None, curve=noise)).metrics.empty
    bent = base[:40] + [v + 0.01 for v in base[40:99]] + [base[99]]  # parts at 40, ends the same
    row = ws.diff(a, make_run(ws, project, "c", files={}, nb=None, curve=bent)).metrics.iloc[0]
    assert (row["change"], row["parts_at_step"]) == ("curve", 40)
    shorter = make_run(ws, project, "d", files={}, nb=None, curve=base[:60])
    row = ws.diff(a, shorter).metrics.iloc[0]
    assert (row["change"], row["parts_at_step"]) == ("changed", 60)  # step 60 only in a


def test_history_names_cells_edited_since_they_ran(ws, project: Path) -> None:
    nb = notebook([code_cell("one", "a = 1"), code_cell("two", "b = a + 1")])
    a = make_run(ws, project, "a", files={}, nb=nb, history=[(1, "a = 1"), (2, "b = a + 1")])
    # b ran an earlier version of cell "two" (since edited), then %time, then the current one
    b = make_run(
        ws,
        project,
        "b",
        files={},
        nb=nb,
        history=[(1, "a = 1"), (2, "b = a - 1"), (3, "%time b = a + 1"), (4, "b = a + 1")],
    )
    rows = {r["cell_id"]: r for r in ws.diff(a, b).history.to_dict("records")}
    assert rows["one"]["change"] == "same"
    assert (rows["two"]["order_a"], rows["two"]["order_b"], rows["two"]["change"]) == ("2", "4", "order")
    edited = [r for key, r in rows.items() if key.startswith("?")]
    assert {r["source"] for r in edited} == {"b = a - 1", "%time b = a + 1"}
    assert all(r["change"] == "only b" for r in edited)


def test_the_notebook_display_shows_every_part_escaped(ws, project: Path) -> None:
    a = make_run(
        ws,
        project,
        "a",
        files={"t.py": "<script>alert(1)</script>\n"},
        nb=notebook([code_cell("p", "plot()", image=png(1))]),
        params={"lr": 1},
    )
    b = make_run(
        ws,
        project,
        "b",
        files={"t.py": "<b>bold</b>\n"},
        nb=notebook([code_cell("p", "plot()", image=png(2))]),
        params={"lr": 2},
    )
    html = ws.diff(a, b)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"data:image/png;base64,{png(1)}" in html and f"data:image/png;base64,{png(2)}" in html
    for part in ("params", "code", "cells"):
        assert f"<b>{part}</b>" in html
    assert "metrics</b>" not in html  # a part without differences is not shown
