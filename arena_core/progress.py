"""Worker progress and heartbeat (progress.json), and the status a reader should believe.

Only the worker writes progress.json. Readers never trust a 'running' status alone: a worker
that died (kill -9, reboot) leaves a stale heartbeat or a dead pid, and the session then reads
as 'interrupted' instead of a phantom 'running'.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from . import layout
from .fsutil import atomic_write_json
from .manifest import SessionStatus

HEARTBEAT_SECONDS = 2.0  # how often a worker refreshes its heartbeat
STALE_AFTER_SECONDS = 15.0  # a heartbeat older than this means the worker is gone

ACTIVE = {SessionStatus.QUEUED, SessionStatus.RUNNING}
RESUMABLE = {SessionStatus.INTERRUPTED, SessionStatus.FAILED, SessionStatus.CANCELLED}


def read_progress(session_dir: Path) -> dict[str, Any]:
    """The worker's last progress record, or {} when none (never started) or unreadable."""
    try:
        with open(session_dir / layout.PROGRESS, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_progress(session_dir: Path, progress: dict[str, Any]) -> None:
    progress["heartbeat"] = time.time()
    progress.setdefault("host", socket.gethostname())
    progress.setdefault("pid", os.getpid())
    atomic_write_json(session_dir / layout.PROGRESS, progress)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def worker_alive(progress: dict[str, Any], now: float | None = None) -> bool:
    """True when the worker behind ``progress`` is still beating."""
    if not progress:
        return False
    now = time.time() if now is None else now
    if now - float(progress.get("heartbeat", 0)) > STALE_AFTER_SECONDS:
        return False
    pid = progress.get("pid")
    if pid and progress.get("host") == socket.gethostname():
        return pid_alive(int(pid))
    return True


def effective_status(recorded: SessionStatus | str, progress: dict[str, Any]) -> SessionStatus:
    """The recorded status, corrected to 'interrupted' when its worker is gone."""
    status = SessionStatus(recorded)
    if status is SessionStatus.RUNNING and not worker_alive(progress):
        return SessionStatus.INTERRUPTED
    if status is SessionStatus.QUEUED and progress and not worker_alive(progress):
        return SessionStatus.INTERRUPTED
    return status


def jobs_done(progress: dict[str, Any]) -> int:
    return sum(1 for job in progress.get("jobs", {}).values() if job.get("status") == "completed")


def best_macro_f1(progress: dict[str, Any]) -> float | None:
    scores = [
        job.get("metrics", {}).get("macro_f1")
        for job in progress.get("jobs", {}).values()
        if job.get("metrics", {}).get("macro_f1") is not None
    ]
    return max(scores) if scores else None
