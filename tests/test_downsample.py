"""minmax_downsample: few points for a long curve, its envelope (spikes, dips, ends) kept."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.viz.downsample import MAX_POINTS, minmax_downsample


def noisy_loss(n: int) -> tuple[list[float], list[float]]:
    xs = [float(step) for step in range(1, n + 1)]
    ys = [1.0 / (1 + step / 500) + 0.05 * math.sin(step * 1.7) for step in range(n)]
    return xs, ys


def is_subsequence(kept: list, full: list) -> bool:
    it = iter(full)
    return all(any(point == other for other in it) for point in kept)


def test_long_series_is_capped_and_keeps_its_ends():
    xs, ys = noisy_loss(100_000)
    kx, ky = minmax_downsample(xs, ys)
    assert len(kx) == len(ky) <= MAX_POINTS
    assert len(kx) > MAX_POINTS * 0.9  # the budget is used, not thrown away
    assert (kx[0], ky[0]) == (xs[0], ys[0])
    assert (kx[-1], ky[-1]) == (xs[-1], ys[-1])
    assert is_subsequence(list(zip(kx, ky, strict=True)), list(zip(xs, ys, strict=True)))
    assert kx == sorted(kx)


def test_a_single_spike_and_a_single_dip_stay_visible():
    xs, ys = noisy_loss(50_000)
    ys[31_337] = 9.0  # e.g. a bad batch
    ys[40_001] = -1.0
    kx, ky = minmax_downsample(xs, ys, cap=500)
    assert len(kx) <= 500
    assert (xs[31_337], 9.0) in zip(kx, ky, strict=True)
    assert (xs[40_001], -1.0) in zip(kx, ky, strict=True)
    assert max(ky) == 9.0 and min(ky) == -1.0


def test_short_series_come_back_unchanged_as_new_lists():
    xs, ys = noisy_loss(MAX_POINTS)
    kx, ky = minmax_downsample(xs, ys)
    assert kx == xs and ky == ys
    assert kx is not xs and ky is not ys
    assert minmax_downsample([], []) == ([], [])
    assert minmax_downsample([3], [0.5]) == ([3], [0.5])


def test_nan_is_skipped_unless_a_whole_bucket_is_nan():
    xs, ys = noisy_loss(10_000)
    ys[5_000] = math.nan  # one bad value: not drawn in place of the bucket's real extremes
    _, ky = minmax_downsample(xs, ys, cap=100)
    assert not any(math.isnan(y) for y in ky)
    ys[6_000:] = [math.nan] * 4_000  # the training diverged: the gap stays visible
    _, ky = minmax_downsample(xs, ys, cap=100)
    assert any(math.isnan(y) for y in ky)
    assert not any(math.isnan(y) for y in ky[: len(ky) // 2])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="length"):
        minmax_downsample([1, 2], [1.0])
    with pytest.raises(ValueError, match="cap"):
        minmax_downsample([1, 2], [1.0, 2.0], cap=3)


@settings(max_examples=100, deadline=None)
@given(
    ys=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=3_000),
    cap=st.integers(4, 50),
)
def test_any_series_keeps_ends_extremes_and_order(ys, cap):
    xs = list(range(len(ys)))
    kx, ky = minmax_downsample(xs, ys, cap)
    assert len(kx) == len(ky) <= cap if len(ys) > cap else kx == xs
    assert kx == sorted(set(kx))  # real points, in order, none twice
    assert ky == [ys[x] for x in kx]
    if ys:
        assert kx[0] == 0 and kx[-1] == len(ys) - 1
        assert max(ky) == max(ys) and min(ky) == min(ys)
