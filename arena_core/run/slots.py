"""OS file locks: a session's worker and launch locks, and the machine-wide worker slots.

Every lock is an flock on a file that is never deleted: the kernel releases it when its holder
dies (kill -9 included), so a crashed worker never leaves a session or a slot taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from arena_core.store import paths


def file_lock(path: Path, timeout: float = 0) -> FileLock:
    """An OS lock (flock) on ``path``; the kernel releases it when the holder dies (kill -9)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path), timeout=timeout, thread_local=False, preserve_lock_file=True)


def try_lock(path: Path) -> FileLock | None:
    """The lock if it was free (now held by us), else None. Never waits."""
    lock = file_lock(path)
    try:
        lock.acquire()
    except Timeout:
        return None
    return lock


def lock_is_held(path: Path) -> bool:
    """True when another process holds the lock on ``path`` (probe: take and release at once)."""
    if not path.exists():
        return False
    lock = try_lock(path)
    if lock is None:
        return True
    lock.release()
    return False


def try_slot(home: Path, limit: int) -> tuple[int, FileLock] | None:
    """Take the first free slot of ARENA_HOME/slots (slot-0.lock ... slot-<limit-1>.lock)."""
    for index in range(limit):
        lock = try_lock(home / paths.SLOTS_DIR / f"slot-{index}.lock")
        if lock is not None:
            return index, lock
    return None


def busy_message(session_id: str, pid: Any) -> str:
    who = f" (pid {pid})" if pid else ""
    return (
        f"Session {session_id} is already running{who}: follow it with 'python -m arena_core "
        f"status {session_id}' or the Monitor page, or cancel it first."
    )
