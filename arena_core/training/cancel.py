"""How a job learns it should stop, and how it says it did (no torch: the worker imports it)."""

from __future__ import annotations

from collections.abc import Callable

StopFn = Callable[[], bool]  # asked between steps; True = stop now, keeping a checkpoint


class JobCancelled(Exception):
    """``should_stop()`` returned true: training stopped cleanly, its checkpoint is kept."""
