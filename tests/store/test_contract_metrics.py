"""Store contract: metric values (P8), latest metrics, history and downsampling, on every backend."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from jupyter_mlws.errors import InvalidParameter, PayloadTooLarge
from jupyter_mlws.validation import MAX_BATCH_METRICS

T0 = 1_700_000_000_000
SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, 2.0**53, 2**53, -(2**53), 1.5]


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


@pytest.fixture
def run_id(store) -> str:
    exp = store.create_experiment("metrics")
    return store.create_run(exp.experiment_id).info.run_id


@pytest.mark.catalogue("P8")
def test_special_values_round_trip_bit_exact(store, run_id) -> None:
    """RELIABILITY P8: NaN, ±inf, -0.0, 1e308, 5e-324 and exact big ints come back unchanged."""
    store.log_batch(run_id, metrics=[(f"m{i}", v, 0, T0) for i, v in enumerate(SPECIAL)])
    latest = store.get_run(run_id).data.metrics
    for i, value in enumerate(SPECIAL):
        expected = _bits(float(value))
        assert _bits(latest[f"m{i}"]) == expected, (value, latest[f"m{i}"])
        series = store.get_metric_history(run_id, f"m{i}")
        assert _bits(float(series.values[0])) == expected


@pytest.mark.catalogue("P8")
def test_imprecise_big_int_bool_and_text_are_refused(store, run_id) -> None:
    with pytest.raises(InvalidParameter, match="2\\*\\*53"):
        store.log_metric(run_id, "big", 2**53 + 1)
    with pytest.raises(InvalidParameter, match="number"):
        store.log_metric(run_id, "flag", True)
    with pytest.raises(InvalidParameter, match="number"):
        store.log_metric(run_id, "text", "0.5")
    assert store.get_run(run_id).data.metrics == {}


@pytest.mark.catalogue("P10")
@pytest.mark.parametrize(
    ("step", "stamp", "message"),
    [
        (-1, T0, "between 0"),
        (1.5, T0, "integer"),
        (2**63, T0, "between 0"),
        (True, T0, "integer"),
        (0, 1_700_000_000, "looks like seconds"),
        (0, 10**17, "milliseconds"),
        (0, "now", "milliseconds"),
    ],
)
def test_bad_steps_and_timestamps_are_refused(store, run_id, step, stamp, message) -> None:
    """RELIABILITY P10: negative/float/huge steps and second-based timestamps get a clear error."""
    with pytest.raises(InvalidParameter, match=message):
        store.log_batch(run_id, metrics=[("loss", 1.0, step, stamp)])


@pytest.mark.catalogue("P10")
def test_oversized_batch_is_payload_too_large(store, run_id) -> None:
    points = [("loss", 1.0, i, T0) for i in range(MAX_BATCH_METRICS + 1)]
    with pytest.raises(PayloadTooLarge, match=str(MAX_BATCH_METRICS)):
        store.log_batch(run_id, metrics=points)


def test_latest_metric_is_largest_step_then_time(store, run_id) -> None:
    store.log_batch(run_id, metrics=[("loss", 3.0, 5, T0), ("loss", 1.0, 9, T0), ("loss", 2.0, 7, T0 + 99)])
    assert store.get_run(run_id).data.metrics["loss"] == 1.0
    store.log_metric(run_id, "loss", 0.5, step=2, timestamp=T0 + 500)  # older step: latest unchanged
    assert store.get_run(run_id).data.metrics["loss"] == 1.0
    store.log_metric(run_id, "loss", 0.25, step=9, timestamp=T0 + 1)  # same step, later time wins
    assert store.get_run(run_id).data.metrics["loss"] == 0.25
    store.log_metric(run_id, "loss", math.nan, step=10, timestamp=T0)
    assert math.isnan(store.get_run(run_id).data.metrics["loss"])


def test_history_is_ordered_by_step_and_complete(store, run_id) -> None:
    steps = list(range(500))
    shuffled = steps[250:] + steps[:250]
    store.log_batch(run_id, metrics=[("acc", s / 1000, s, T0 + s) for s in shuffled])
    series = store.get_metric_history(run_id, "acc")
    assert list(series.steps) == steps
    assert list(series.timestamps) == [T0 + s for s in steps]
    assert np.allclose(series.values, [s / 1000 for s in steps])
    assert series.total_points == 500
    assert store.get_metric_history(run_id, "never-logged").total_points == 0


def test_histories_of_many_runs_read_as_each_run_alone(store, run_id) -> None:
    from jupyter_mlws.errors import NotFound

    exp = store.create_experiment("metrics-many").experiment_id
    other = store.create_run(exp).info.run_id
    empty = store.create_run(exp).info.run_id
    store.log_batch(run_id, metrics=[("loss", 1.0 / (s + 1), s, T0 + s) for s in range(300, -1, -1)])
    for start in range(0, 5000, 1000):  # several batches: several chunks
        store.log_batch(
            other, metrics=[("loss", float(s % 7), s, T0 + s) for s in range(start, start + 1000)]
        )
    store.log_batch(other, metrics=[("loss", math.nan, 5000, T0 + 5000), ("acc", 0.5, 0, T0)])
    store.log_batch(empty, metrics=[("acc", 0.1, 0, T0)])
    got = store.get_metric_histories([other, empty, run_id], "loss")
    assert list(got) == [other, run_id], "in the order asked; a run without the key left out"
    for rid, series in got.items():
        alone = store.get_metric_history(rid, "loss")
        assert np.array_equal(series.steps, alone.steps)
        assert np.array_equal(series.timestamps, alone.timestamps)
        assert np.array_equal(series.values, alone.values, equal_nan=True)
        assert series.total_points == alone.total_points
    assert got[other].total_points == 5001 and list(got[run_id].steps) == list(range(301))
    with pytest.raises(NotFound, match="nope"):
        store.get_metric_histories([run_id, "nope"], "loss")


def test_downsampled_history_keeps_spikes_and_ends(store, run_id) -> None:
    n = 20_000
    values = [math.sin(i / 500) for i in range(n)]
    values[12_345] = 50.0  # a spike a naive stride would miss
    values[777] = -50.0
    for start in range(0, n, 10_000):
        store.log_batch(run_id, metrics=[("sig", values[i], i, T0 + i) for i in range(start, start + 10_000)])
    series = store.get_metric_history(run_id, "sig", max_points=200)
    assert 100 <= len(series.steps) <= 200
    assert series.total_points == n
    assert series.steps[0] == 0 and series.steps[-1] == n - 1
    assert 12_345 in set(series.steps) and 777 in set(series.steps)
    assert list(series.steps) == sorted(series.steps)
    full = store.get_metric_history(run_id, "sig", max_points=None)
    assert len(full.steps) == n
    with pytest.raises(InvalidParameter, match="max_points"):
        store.get_metric_history(run_id, "sig", max_points=1)


def test_params_and_tags_refuse_nul_and_keep_unicode(store, run_id) -> None:
    with pytest.raises(InvalidParameter, match="NUL"):
        store.log_param(run_id, "p", "a\x00b")
    store.log_params(run_id, {"emoji": "🚀", "rtl": "שלום", "n": 10**30})
    assert store.get_run(run_id).data.params == {"emoji": "🚀", "rtl": "שלום", "n": str(10**30)}


def test_history_from_many_small_batches_keeps_every_point_in_order(store, run_id) -> None:
    """A series logged a few points per flush (the usual notebook loop) reads back whole."""
    expected = []
    for batch in range(300):
        points = [("acc", batch + i / 10, batch * 7 + (6 - i), T0 + batch) for i in range(7)]
        store.log_batch(run_id, metrics=points)
        expected += [(p[2], p[1]) for p in points]
    store.log_metric(run_id, "acc", -0.0, step=5, timestamp=T0)  # an equal step comes after the first
    expected.append((5, -0.0))
    series = store.get_metric_history(run_id, "acc")
    by_step = sorted(range(len(expected)), key=lambda i: expected[i][0])  # stable: log order on ties
    assert list(series.steps) == [expected[i][0] for i in by_step]
    assert [_bits(float(v)) for v in series.values] == [_bits(expected[i][1]) for i in by_step]
    assert series.total_points == 2101


@pytest.mark.catalogue("K7")
def test_batch_ids_make_retries_safe(store, run_id) -> None:
    batch = [("loss", 0.5, 1, T0), ("loss", 0.4, 2, T0)]
    assert store.log_batch(run_id, metrics=batch, params={"lr": 1}, batch_id="b-1") is True
    assert store.log_batch(run_id, metrics=batch, params={"lr": 2}, batch_id="b-1") is False  # a retry
    assert store.get_metric_history(run_id, "loss").total_points == 2
    assert store.get_run(run_id).data.params == {"lr": "1"}
    assert store.log_batch(run_id, metrics=batch, batch_id="b-2") is True
    assert store.get_metric_history(run_id, "loss").total_points == 4
    with pytest.raises(InvalidParameter, match="batch id"):
        store.log_batch(run_id, metrics=batch, batch_id="../x")
    with pytest.raises(InvalidParameter):  # a failed batch does not burn its id
        store.log_batch(run_id, metrics=[("loss", "bad", 3, T0)], batch_id="b-3")
    assert store.log_batch(run_id, metrics=batch, batch_id="b-3") is True


def test_step_window_returns_the_window_downsampled(store, run_id) -> None:
    store.log_batch(run_id, metrics=[("loss", float(i % 7), i, T0) for i in range(1000)])
    window = store.get_metric_history(run_id, "loss", min_step=100, max_step=199)
    assert list(window.steps) == list(range(100, 200))
    assert window.total_points == 1000 and window.cursor == 1000
    detail = store.get_metric_history(run_id, "loss", max_points=20, min_step=500, max_step=899)
    assert len(detail.steps) <= 20 and min(detail.steps) >= 500 and max(detail.steps) <= 899
    assert min(detail.steps) == 500 and max(detail.steps) == 899, "the window's ends are kept"
    assert list(store.get_metric_history(run_id, "loss", min_step=995).steps) == [995, 996, 997, 998, 999]
    assert list(store.get_metric_history(run_id, "loss", max_step=2).steps) == [0, 1, 2]
    assert len(store.get_metric_history(run_id, "loss", min_step=5000).steps) == 0


def test_since_cursor_returns_only_new_points(store, run_id) -> None:
    store.log_batch(run_id, metrics=[("loss", float(i), i, T0) for i in range(5)])
    first = store.get_metric_history(run_id, "loss")
    assert first.cursor == 5 and len(first.steps) == 5
    store.log_batch(run_id, metrics=[("loss", float(i), i, T0) for i in (7, 6)])
    later = store.get_metric_history(run_id, "loss", since=first.cursor)
    assert list(later.steps) == [6, 7] and later.cursor == 7 and later.total_points == 7
    assert len(store.get_metric_history(run_id, "loss", since=later.cursor).steps) == 0
    with pytest.raises(InvalidParameter, match="cursor"):
        store.get_metric_history(run_id, "loss", since=-1)
