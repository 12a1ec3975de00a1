"""First come, first served for the machine-wide worker slots, and who waits in which place.

Why: a slot (``run/slots.py``) is an flock that any waiting worker may grab once it is free, so
with several workers waiting, whichever polled first won: a relaunch could wait behind sessions
launched after it, and nobody could tell a user how many were ahead.

Waiting: a worker that finds no free slot (or finds others already waiting) takes a *ticket*, a
file in ARENA_HOME/slots/queue named after the time it started waiting. It holds an flock on its
ticket for as long as it waits, so the kernel drops a killed waiter's claim at once (its file is
then ignored, and removed by the next waiter that sees it). Only the first live ticket, or the
first N when N slots are free, may try the slots: slots go in order of arrival.

Holding: a worker that took slot i writes ``slot-<i>.json`` (session, pid) next to the slot's
lock, so readers can list the running sessions without probing the locks (a probe takes the lock
for an instant, which could make a worker's try fail). A record is believed only when that
session's own progress.json says it runs in that slot and its worker is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json
from arena_core.store.records import read_progress
from arena_core.store.status import worker_alive

QUEUE_DIR = "queue"  # inside ARENA_HOME/slots
TICKET_SUFFIX = ".ticket"


def _queue_dir(home: Path) -> Path:
    return Path(home) / paths.SLOTS_DIR / QUEUE_DIR


def _holder_file(home: Path, index: int) -> Path:
    return Path(home) / paths.SLOTS_DIR / f"slot-{index}.json"


# ---------------------------------------------------------------- tickets


@dataclass
class Ticket:
    """This worker's place in the queue: an flocked file, held until ``leave``."""

    path: Path
    session: str
    queued_at: float
    _fd: int

    def leave(self) -> None:
        """Out of the queue (slot taken, cancelled or failed): remove the file, then unlock."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = -1


@dataclass(frozen=True)
class Waiting:
    """A live ticket, as readers see it."""

    name: str
    session: str
    pid: int | None
    queued_at: float


def join(home: Path, session_id: str) -> Ticket:
    """Take a ticket at the end of the queue.

    The file is created and locked under a temporary name, then renamed into place, so no
    reader ever sees an unlocked ticket of a live worker (which it would take for a dead one).
    """
    import fcntl  # POSIX, like the worker's process groups; imported here so pages load anywhere

    folder = _queue_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    queued_at = time.time()
    name = f"{time.time_ns():020d}-{os.getpid()}"
    temp = folder / f".{name}.tmp"
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        record = {
            "session": session_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "queued_at": queued_at,
        }
        os.write(fd, json.dumps(record).encode("utf-8"))
        path = folder / f"{name}{TICKET_SUFFIX}"
        os.rename(temp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return Ticket(path, session_id, queued_at, fd)


def _held(path: Path) -> bool | None:
    """True while a live worker holds the ticket, False when nobody does, None when gone."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)  # never O_CREAT: a probe must not recreate a ticket
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our shared lock when we got it
    return False


def waiting(home: Path, clean: bool = False) -> list[Waiting]:
    """Live tickets, first come first; ``clean`` removes the tickets of dead waiters."""
    folder = _queue_dir(home)
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    if clean:  # a waiter killed while taking its ticket leaves its temporary file
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.name.endswith(".tmp") and time.time() - entry.stat().st_mtime > 60:
                    entry.unlink()
    names = sorted(p.name for p in entries if p.name.endswith(TICKET_SUFFIX))
    found = []
    for name in names:
        path = folder / name
        held = _held(path)
        if held is False and clean:
            with contextlib.suppress(OSError):
                path.unlink()
        if not held:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # left meanwhile, or half written: not counted this time
        found.append(
            Waiting(
                name=name,
                session=str(data.get("session", "")),
                pid=data.get("pid"),
                queued_at=float(data.get("queued_at") or 0.0),
            )
        )
    return found


def my_turn(home: Path, ticket: Ticket, limit: int) -> bool:
    """May this waiter try the slots now? The first in line always may; the k-th when at
    least k slots look free (holder records), so two freed slots serve two waiters at once."""
    line = [w.name for w in waiting(home, clean=True)]
    if ticket.path.name not in line:
        return True  # our own ticket unseen (cannot happen while we hold it): do not starve
    place = line.index(ticket.path.name) + 1
    return place == 1 or place <= limit - len(running(home))


# ---------------------------------------------------------------- slot holders


def claim(home: Path, index: int, session_id: str) -> None:
    """Record that this process holds slot ``index`` for ``session_id`` (readers only)."""
    record = {"session": session_id, "pid": os.getpid(), "host": socket.gethostname()}
    with contextlib.suppress(Exception):  # a display aid: never a reason to fail a run
        atomic_write_json(
            _holder_file(home, index), {**record, "since": time.time()}, durable=False
        )


def unclaim(home: Path, index: int) -> None:
    """Remove this process's holder record of slot ``index`` (before releasing the slot)."""
    path = _holder_file(home, index)
    with contextlib.suppress(Exception):
        if (read_json(path) or {}).get("pid") == os.getpid():
            path.unlink()


def running(home: Path) -> list[str]:
    """Sessions holding a slot now, in slot order (a record is believed only when the
    session's own progress says it runs in that slot and its worker is alive)."""
    found = []
    for path in sorted(
        (Path(home) / paths.SLOTS_DIR).glob("slot-*.json"), key=lambda p: _slot_index(p.name)
    ):
        try:
            record = read_json(path) or {}
            session = paths.validate_session_id(record.get("session"))
        except Exception:  # noqa: BLE001 - gone, unreadable or odd: not a holder
            continue
        progress = read_progress(Path(home) / paths.SESSIONS_DIR / session)
        in_slot = progress.slot == _slot_index(path.name) and progress.pid == record.get("pid")
        if in_slot and worker_alive(progress):
            found.append(session)
    return found


def _slot_index(name: str) -> int:
    digits = name.removeprefix("slot-").removesuffix(".json")
    return int(digits) if digits.isdigit() else -1


def queue_state(home: Path, session_id: str) -> dict[str, Any] | None:
    """``{"place", "waiting", "running"}`` for a session waiting for a slot, else None."""
    line = waiting(home)
    places = [i for i, w in enumerate(line, start=1) if w.session == session_id]
    if not places:
        return None
    return {"place": places[0], "waiting": len(line), "running": running(home)}
