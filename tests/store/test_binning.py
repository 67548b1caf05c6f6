"""`store/binning.bin_on_grid`: the shared x grid of a comparison's charts, with non-finite points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jupyter_mlws.store.binning import bin_on_grid


def test_non_finite_values_leave_their_bins_means_to_the_finite_points() -> None:
    x = np.arange(1000, dtype=np.float64)
    y = np.ones(1000)
    y[0:10] = math.nan  # bin 0 holds only NaN: a gap
    y[15] = math.inf  # bin 1 keeps the mean of its finite points
    y[25] = -math.inf
    y[30] = math.nan
    y[40:50] = 3.0  # bin 4's mean, min and max
    grid, binned, (series,) = bin_on_grid([x], [y], 100)
    assert binned and len(grid) == 100
    assert series.mean[0] is None and series.low[0] is None and series.high[0] is None
    assert series.mean[1] == 1.0 and series.mean[2] == 1.0 and series.mean[3] == 1.0
    assert series.mean[4] == 3.0 and series.low[4] == 3.0 and series.high[4] == 3.0
    assert series.mean[5:] == [1.0] * 95


def test_all_finite_histories_bin_to_the_mean_of_each_bins_points() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(5000, dtype=np.float64)
    y = rng.normal(size=5000)
    (grid, binned, (series,)) = bin_on_grid([x], [y], 40, bands=False)
    width = 4999 / 40
    index = np.minimum((x / width).astype(int), 39)
    assert binned and series.low is None
    assert series.mean == pytest.approx([y[index == k].mean() for k in range(40)])
    assert grid[0] == pytest.approx(width / 2)


def test_a_non_finite_x_is_left_out_and_a_run_without_points_is_empty() -> None:
    x = np.array([0.0, math.nan, 2.0, 3.0])
    y = np.array([1.0, 99.0, 2.0, 3.0])
    grid, binned, (a, b) = bin_on_grid([x, np.zeros(0)], [y, np.zeros(0)], 10)
    assert not binned and grid == [0.0, 2.0, 3.0]
    assert a.mean == [1.0, 2.0, 3.0] and b.mean == [None, None, None]
