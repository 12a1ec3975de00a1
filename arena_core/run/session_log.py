"""The session's worker.log: where the worker, and each Ray job of the session, write their
log lines (one file per session, each line with its process id)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arena_core.store import paths


def _same_file(stream: Any, path: Path) -> bool:
    try:
        a, b = os.fstat(stream.fileno()), os.stat(path)
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@contextmanager
def session_log(session_dir: Path) -> Iterator[None]:
    """Send this package's logs to the session's worker.log for the life of the worker (or of
    a Ray job: its lines land beside the worker's, each with its own pid).

    A detached worker's stderr is worker.log already: stream handlers writing there are muted
    meanwhile so lines are not written twice.
    """
    path = session_dir / paths.WORKER_LOG
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s")
    )
    root, package = logging.getLogger(), logging.getLogger("arena_core")
    muted = []
    for other in root.handlers:
        stream = getattr(other, "stream", None)
        if isinstance(other, logging.StreamHandler) and _same_file(stream, path):
            muted.append((other, other.level))
            other.setLevel(logging.CRITICAL + 1)
    old_level = package.level
    package.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        package.setLevel(old_level)
        for other, level in muted:
            other.setLevel(level)
