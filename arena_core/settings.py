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

DEFAULT_HOME = "arena_home"
DEFAULT_MAX_WORKERS = 1  # CPU: one training at a time uses every core already


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
