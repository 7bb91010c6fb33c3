"""The benchmark's statistics: the same definitions as numpy, without numpy."""

from __future__ import annotations

import pytest
from bench import stats


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 31)]  # 30 trials: 1..30
    assert stats.percentile(values, 50) == 15.5
    assert stats.percentile(values, 99) == pytest.approx(29.71)
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 30.0
    assert stats.percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert stats.percentile([7.0], 99) == 7.0


def test_median_of_odd_and_even_counts() -> None:
    assert stats.median([5.0, 1.0, 3.0]) == 3.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_summary_is_median_and_range() -> None:
    summary = stats.summarize([2.0, 9.0, 4.0])
    assert summary == stats.Summary(n=3, median=4.0, low=2.0, high=9.0)
    assert summary.as_json() == {"n": 3, "median": 4.0, "low": 2.0, "high": 9.0}


def test_slope_is_least_squares() -> None:
    # 80 MiB at 0, then 1 MiB per 10 objects, with noise that cancels out.
    points = [(0.0, 80.0), (100.0, 90.5), (1000.0, 180.0), (100.0, 89.5)]
    assert stats.slope(points) == pytest.approx(0.1)


def test_ratio_is_none_when_a_side_is_missing() -> None:
    assert stats.ratio(1.0, 2.0) == 0.5
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(1.0, None) is None
    assert stats.ratio(1.0, 0.0) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: stats.percentile([], 50),
        lambda: stats.percentile([1.0], 101),
        lambda: stats.summarize([]),
        lambda: stats.slope([(1.0, 2.0)]),
        lambda: stats.slope([(1.0, 2.0), (1.0, 3.0)]),
    ],
)
def test_degenerate_input_is_refused(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]
