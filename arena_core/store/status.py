"""What a reader should believe: the one place session and job statuses are derived.

Only the worker writes progress.json. Readers never trust a 'running' status alone: a worker
that died (kill -9, reboot) leaves a stale heartbeat or a dead pid, and the session then reads
as 'interrupted' instead of a phantom 'running'. A job's row merges its progress.json entry and
its report.json (``job_row``); the Monitor (``run/control.py::session_status``) and the Sessions
page (``session/describe.py::job_results``) both show that one row.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena_core.session.manifest import SessionStatus
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.records import (
    LAUNCHING,
    JobProgress,
    JobReport,
    JobStatus,
    Progress,
    read_report,
)

STALE_AFTER_SECONDS = 15.0  # a heartbeat older than this means the worker is gone
LAUNCH_MARKER_MAX_SECONDS = 120.0  # a worker slower than this to start is considered dead

ACTIVE = {SessionStatus.QUEUED, SessionStatus.RUNNING}
RESUMABLE = {SessionStatus.INTERRUPTED, SessionStatus.FAILED, SessionStatus.CANCELLED}
# progress.json statuses of a worker that recorded its end
FINISHED = {SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED}


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


def worker_alive(progress: Progress, now: float | None = None) -> bool:
    """True when the worker behind ``progress`` is still beating."""
    if not progress.on_disk:
        return False
    now = time.time() if now is None else now
    # A worker still starting (imports take long on a busy machine) has only its launcher's
    # marker: it is alive while its process is, up to LAUNCH_MARKER_MAX_SECONDS.
    limit = LAUNCH_MARKER_MAX_SECONDS if progress.status == LAUNCHING else STALE_AFTER_SECONDS
    if now - (progress.heartbeat or 0.0) > limit:
        return False
    if progress.pid and progress.host == socket.gethostname():
        return pid_alive(progress.pid)
    return True


def effective_status(recorded: SessionStatus | str, progress: Progress) -> SessionStatus:
    """The recorded status, corrected to 'interrupted' when its worker is gone."""
    status = SessionStatus(recorded)
    if status is SessionStatus.RUNNING and not worker_alive(progress):
        return SessionStatus.INTERRUPTED
    if status is SessionStatus.QUEUED and progress.on_disk and not worker_alive(progress):
        return SessionStatus.INTERRUPTED
    return status


def jobs_done(progress: Progress) -> int:
    return sum(1 for job in progress.jobs.values() if job.status is JobStatus.COMPLETED)


def best_macro_f1(progress: Progress) -> float | None:
    scores = [
        job.metrics["macro_f1"] for job in progress.jobs.values() if "macro_f1" in job.metrics
    ]
    return max(scores) if scores else None


# ---------------------------------------------------------------- one job's row


def _gone(session: SessionStatus) -> JobStatus:
    """What a job left 'running' became once its worker is gone (killed, cancelled)."""
    if session is SessionStatus.COMPLETED:
        return JobStatus.FAILED
    try:
        return JobStatus(session.value)
    except ValueError:  # ready/imported: no job status of that name
        return JobStatus.INTERRUPTED


@dataclass(frozen=True)
class JobRow:
    """One planned job as readers see it: its progress entry and report merged.

    ``status`` is what to believe now (a completed report wins; a job left running by a dead
    worker reads as its session's end). ``recorded`` is the same, but 'not started' for a job no
    file mentions yet (the Sessions page's results table says so rather than 'queued').
    """

    job: ModelJob
    status: JobStatus
    recorded: JobStatus
    entry: JobProgress
    report: JobReport | None

    @property
    def metrics(self) -> dict[str, float]:
        """Headline metrics: the completed report's, else the worker's last ones."""
        if self.report is not None and self.report.completed:
            return self.report.headline_metrics() or dict(self.entry.metrics)
        return dict(self.entry.metrics)

    @property
    def baseline_macro_f1(self) -> float | None:
        """The tf-idf baseline's validation macro-F1 on this job's rows (fine-tunes only)."""
        baseline = self.report.baseline if self.report is not None else None
        score = (baseline or {}).get("macro_f1")
        return float(score) if isinstance(score, int | float) else None

    @property
    def eta_seconds(self) -> float | None:
        return self.entry.eta_seconds if self.status is JobStatus.RUNNING else None


def job_row(
    job: ModelJob, entry: JobProgress | None, report: JobReport | None, session: SessionStatus
) -> JobRow:
    """Merge a job's progress entry (None: none yet) and report under its session's status."""
    status = (entry.status if entry else None) or JobStatus.QUEUED
    if report is not None and report.completed:
        status = JobStatus.COMPLETED
    elif status is JobStatus.RUNNING and session not in ACTIVE:
        status = _gone(session)
    recorded = status if (entry is not None or report is not None) else JobStatus.NOT_STARTED
    return JobRow(job, status, recorded, entry or JobProgress(), report)


def job_rows(
    session_dir: Path, jobs: list[ModelJob], progress: Progress, session: SessionStatus
) -> list[JobRow]:
    """The rows of ``jobs`` (plan order), each with its report read from the job folder."""
    return [
        job_row(
            job,
            progress.jobs.get(job.id),
            read_report(paths.job_dir(session_dir, job.id)),
            session,
        )
        for job in jobs
    ]


def job_identity(job: ModelJob) -> dict[str, Any]:
    """The columns naming a job, shared by every job table."""
    return {
        "key": job.key,
        "strategy": job.strategy.value,
        "label": job.label,
        "language": job.language,
    }
