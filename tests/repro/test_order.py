"""What a cell reads and sets, as the out-of-order check sees it (repro/order.py); no kernel needed."""

from __future__ import annotations

import pytest

from jupyter_mlws.repro.order import OrderTracker, cell_names

CASES = [
    ("x = y + 1", {"y"}, {"x"}),
    ("x += 1", {"x"}, {"x"}),
    ("import numpy as np\nnp.array(a)", {"a"}, {"np"}),
    ("def f(a):\n    return a + b\nf(2)", {"b"}, {"f"}),
    ("for i in range(n):\n    total = total + i", {"n", "total"}, {"i", "total"}),
    ("[k for k in ks if k > lim]", {"ks", "lim"}, set()),
    ("class C(Base):\n    v = 1\n    def m(self):\n        return self.v + g", {"Base", "g"}, {"C"}),
    ("with open(p) as fh:\n    data = fh.read()", {"p"}, {"data", "fh"}),
    ("try:\n    r = 1\nexcept ValueError as e:\n    print(e)", set(), {"e", "r"}),
    ("(w := v + 1)", {"v"}, {"w"}),
    ("%%mlrun -e x -n fit\nmodel = fit(lr)", {"fit", "lr"}, {"model"}),
    ("%%time\nz = w", {"w"}, {"z"}),
    ("%%bash\necho $x", set(), set()),
    ("!ls\nfiles = listing", {"listing"}, {"files"}),
    ("x = (", set(), set()),
]


@pytest.mark.parametrize(("source", "reads", "writes"), CASES, ids=[c[0][:24] for c in CASES])
def test_cell_names(source: str, reads: set[str], writes: set[str]) -> None:
    assert cell_names(source) == (frozenset(reads), frozenset(writes))


class Saved:
    """A saved notebook as the check sees it: positions and sources by id, saved at `when`."""

    def __init__(self, cells: list[tuple[str, str]], when: float) -> None:
        self.cells = {cid: (number, src) for number, (cid, src) in enumerate(cells, 1)}
        self.when = when

    def cell(self, cell_id: str) -> tuple[int, str] | None:
        return self.cells.get(cell_id)

    def saved_at(self) -> float | None:
        return self.when


def test_the_tracker_names_below_edited_and_deleted_writers() -> None:
    tracker = OrderTracker()
    tracker.ran("a", "lr = 0.1", 1.0)
    tracker.ran("b", "epochs = 3", 2.0)
    tracker.ran("c", "seed = 7", 3.0)
    tracker.ran("run", "%%mlrun\nfit(lr, epochs, seed)", 4.0)
    saved = Saved(
        [("run", "%%mlrun\nfit(lr, epochs, seed)"), ("a", "lr = 0.1"), ("b", "epochs = 30")], when=5.0
    )
    found = {(p.name, p.why, p.position) for p in tracker.check("run", "fit(lr, epochs, seed)", saved, ["c"])}
    assert found == {("lr", "below", 2), ("epochs", "edited", 3), ("seed", "deleted", None)}
    # a save made before the cells ran says nothing of edits or deletions since
    tracker.ran("run", "%%mlrun\nfit(lr, epochs, seed)", 6.0)
    early = Saved([("run", "%%mlrun\nfit(lr, epochs, seed)"), ("b", "epochs = 30")], when=0.5)
    assert {(p.name, p.why) for p in tracker.check("run", "fit(lr, epochs, seed)", early)} == {
        ("epochs", "below")
    }
