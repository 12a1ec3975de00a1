"""The one place ``ARENA_*`` environment variables are read.

Each setting is read when asked for, not at import: tests and the CLI's ``--home`` change them
per process, and a worker started later must see the launcher's values. A value that cannot be
used is an ``ArenaError`` naming the variable and what to set it to, never a silent default.
"""

from __future__ import annotations

import os
from pathlib import Path

from arena_core.errors import ArenaError

HOME = "ARENA_HOME"
MAX_WORKERS = "ARENA_MAX_WORKERS"
MODEL_ROOTS = "ARENA_MODEL_ROOTS"
HEAP_TRIM = "ARENA_HEAP_TRIM"
EXECUTOR = "ARENA_EXECUTOR"
RAY_ADDRESS = "ARENA_RAY_ADDRESS"
RAY_CPUS_PER_JOB = "ARENA_RAY_CPUS_PER_JOB"
RAY_GPUS_PER_JOB = "ARENA_RAY_GPUS_PER_JOB"

DEFAULT_HOME = "arena_home"
DEFAULT_MAX_WORKERS = 1  # CPU: one training at a time uses every core already
EXECUTORS = ("local", "ray")


def home(override: str | os.PathLike | None = None) -> Path:
    """Where sessions, uploads and the trash live: ``override``, else $ARENA_HOME, else ./arena_home."""
    raw = override or os.environ.get(HOME) or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


def max_workers() -> int:
    """Trainings allowed to run at once on this machine (more launches wait as 'queued')."""
    raw = os.environ.get(MAX_WORKERS, "").strip()
    if not raw:
        return DEFAULT_MAX_WORKERS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ArenaError(
            f"{MAX_WORKERS}={raw!r} is not a positive whole number: set it to 1 or more."
        )
    return value


def model_roots() -> list[Path] | None:
    """Folders (os.pathsep-separated) local models must live under; None = any folder."""
    raw = os.environ.get(MODEL_ROOTS, "")
    roots = [Path(part.strip()) for part in raw.split(os.pathsep) if part.strip()]
    return roots or None


def heap_trim() -> bool:
    """Whether the worker hands freed heap memory back to the OS between steps (default on)."""
    return os.environ.get(HEAP_TRIM, "1").strip() != "0"


def executor() -> str:
    """Where a session's jobs train: 'local' (in the worker process, one after another, the
    default) or 'ray' (one Ray task per job, in parallel across a Ray cluster)."""
    raw = os.environ.get(EXECUTOR, "").strip().lower() or EXECUTORS[0]
    if raw not in EXECUTORS:
        raise ArenaError(
            f"{EXECUTOR}={raw!r} is not an executor: set it to 'local' (the default) or 'ray'."
        )
    return raw


def ray_address() -> str:
    """The Ray cluster to join: 'auto' (the one started on this machine by 'ray start') or an
    address such as 'ray://head:10001' or 'head:6379'."""
    return os.environ.get(RAY_ADDRESS, "").strip() or "auto"


def _resources(name: str, default: float, allow_zero: bool) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero):
        wanted = "of 0 or more" if allow_zero else "above 0"
        raise ArenaError(f"{name}={raw!r} is not a number {wanted}: set it to e.g. 1 or 0.5.")
    return value


def ray_cpus_per_job() -> float:
    """CPUs each Ray job reserves (default 1: small models train best one thread a job, many
    jobs at once); Ray sets the job's thread count to match."""
    return _resources(RAY_CPUS_PER_JOB, 1.0, allow_zero=False)


def ray_gpus_per_job() -> float:
    """GPUs each Ray job reserves (default 0; 1 on a GPU cluster, or 0.5 to share one)."""
    return _resources(RAY_GPUS_PER_JOB, 0.0, allow_zero=True)
