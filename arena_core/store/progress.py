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

from arena_core.session.manifest import SessionStatus
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json

HEARTBEAT_SECONDS = 2.0  # how often a worker refreshes its heartbeat
STALE_AFTER_SECONDS = 15.0  # a heartbeat older than this means the worker is gone

ACTIVE = {SessionStatus.QUEUED, SessionStatus.RUNNING}
RESUMABLE = {SessionStatus.INTERRUPTED, SessionStatus.FAILED, SessionStatus.CANCELLED}


def read_progress(session_dir: Path) -> dict[str, Any]:
    """The worker's last progress record, or {} when none (never started) or unreadable."""
    try:
        with open(session_dir / paths.PROGRESS, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return _well_typed(data)


_NUMBERS = ("heartbeat", "step", "total_steps", "eta_seconds", "steps_done")
_TEXTS = ("status", "host", "current_job", "error")


def _clean_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """Keep a field only when it has the type readers rely on."""
    clean = dict(entry)
    for name in _NUMBERS:
        value = clean.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            clean.pop(name)
    for name in _TEXTS:
        if name in clean and clean[name] is not None and not isinstance(clean[name], str):
            clean.pop(name)
    if "pid" in clean and (not isinstance(clean["pid"], int) or isinstance(clean["pid"], bool)):
        clean.pop("pid")
    if "metrics" in clean and not isinstance(clean["metrics"], dict):
        clean["metrics"] = {}
    return clean


def _well_typed(data: object) -> dict[str, Any]:
    """Drop fields of the wrong type, so a damaged file reads as 'no information', not a crash."""
    if not isinstance(data, dict):
        return {}
    clean = _clean_fields(data)
    jobs = clean.get("jobs")
    clean["jobs"] = {
        str(job_id): _clean_fields(job)
        for job_id, job in (jobs.items() if isinstance(jobs, dict) else [])
        if isinstance(job, dict)
    }
    overall = clean.get("overall")
    if overall is not None:
        if isinstance(overall, dict):
            clean["overall"] = _clean_fields(overall)
        else:
            clean.pop("overall")
    return clean


def write_progress(session_dir: Path, progress: dict[str, Any]) -> None:
    progress["heartbeat"] = time.time()
    progress.setdefault("host", socket.gethostname())
    progress.setdefault("pid", os.getpid())
    atomic_write_json(session_dir / paths.PROGRESS, progress)


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
