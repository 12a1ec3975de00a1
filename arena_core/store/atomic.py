"""Crash-safe file writes: temp file in the same folder, fsync, rename, previous version kept."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from arena_core.errors import StorageError


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def storage_error(path: Path, exc: OSError) -> StorageError:
    """Turn an OSError into a message that says what to do."""
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full: free some space and try again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "it is not writable: check the permissions of ARENA_HOME"
    else:
        hint = exc.strerror or str(exc)
    return StorageError(f"Cannot write {path}: {hint}.")


def atomic_write_bytes(
    path: Path, data: bytes, backup: Path | None = None, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix.

    With ``backup``, the current file is first copied there (also atomically), so a later
    corruption of ``path`` can fall back to the previous version. ``durable=False`` skips the
    fsyncs, for caches that can be rebuilt (a crash then loses the file, never mixes it).
    """
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if backup is not None and path.exists():
            atomic_write_bytes(Path(backup), path.read_bytes())
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        if durable:
            _fsync_dir(path.parent)
    except OSError as exc:
        raise storage_error(path, exc) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def remove_stale_temps(path: Path, older_than: float = 60.0) -> int:
    """Delete temp files a killed writer left beside ``path`` (only old ones: a live writer's
    temp file is seconds old at most)."""
    removed = 0
    cutoff = time.time() - older_than
    for tmp in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
    return removed


def atomic_write_json(
    path: Path, payload: Any, backup: Path | None = None, durable: bool = True
) -> None:
    data = json.dumps(payload, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    atomic_write_bytes(path, data + b"\n", backup=backup, durable=durable)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
