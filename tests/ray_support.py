"""The Ray executor's tests run on a real local Ray cluster (``bench/ray_cluster.py``).

A machine without the ray package skips them loudly, or fails them where the tools are required
(CI: tests/tool_support.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from tool_support import missing_tool

from bench.ray_cluster import local_ray_cluster as _cluster
from bench.ray_cluster import ray_node  # noqa: F401 - for the tests


@contextmanager
def local_ray_cluster(cpus: int = 2) -> Iterator[str]:
    """A head node with ``cpus`` CPUs; yields its address (for ARENA_RAY_ADDRESS)."""
    if shutil.which("ray") is None:
        missing_tool("the ray package (pip install -r requirements-dev.txt)")
    with _cluster(cpus) as address:
        yield address
