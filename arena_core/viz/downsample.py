"""Reduce a long curve to a few points for plotting, keeping its envelope. No streamlit here.

A chart is a few hundred pixels wide: 50k training-loss points cost the browser and the
figure builder time without showing more. ``minmax_downsample`` keeps the first and the last
point and, per bucket of consecutive points, the lowest and the highest one (in their order),
so the drawn line still reaches every spike and every dip (the M4 idea for line charts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_POINTS = 2000  # per curve: about two points per pixel column of a wide chart


def minmax_downsample(
    xs: Sequence[float], ys: Sequence[float], cap: int = MAX_POINTS
) -> tuple[list[float], list[float]]:
    """At most ``cap`` points of the curve (xs, ys): first, last, and min + max of each bucket.

    A curve of ``cap`` points or fewer comes back unchanged (as new lists). Buckets are runs
    of consecutive points, so xs need not be evenly spaced. A bucket made only of NaN keeps a
    NaN point (the gap stays visible); otherwise NaN is never picked as a bucket's min or max.
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} vs {len(ys)})")
    if cap < 4:
        raise ValueError(f"cap must be at least 4 points, got {cap}")
    n = len(xs)
    if n <= cap:
        return list(xs), list(ys)
    y = np.asarray(ys, dtype=float)
    inner = y[1:-1]  # the first and last points are always kept
    size = -(-inner.size // ((cap - 2) // 2))  # points per bucket, rounded up
    low, high = inner, inner
    if np.isnan(inner).any():
        nan = np.isnan(inner)
        low, high = np.where(nan, np.inf, inner), np.where(nan, -np.inf, inner)
    keep = [0, *np.unique(np.concatenate(_extremes(low, high, size))) + 1, n - 1]
    return [xs[i] for i in keep], [float(y[i]) for i in keep]


def _extremes(low: np.ndarray, high: np.ndarray, size: int) -> list[np.ndarray]:
    """Positions of the min (in ``low``) and max (in ``high``) of each run of ``size`` points."""
    full = low.size // size * size
    start = np.arange(0, full, size)
    out = [
        start + low[:full].reshape(-1, size).argmin(axis=1),
        start + high[:full].reshape(-1, size).argmax(axis=1),
    ]
    if full < low.size:  # a last, shorter bucket
        out.append(np.array([full + low[full:].argmin(), full + high[full:].argmax()]))
    return out
