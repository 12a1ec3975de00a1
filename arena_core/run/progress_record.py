"""The worker's side of progress.json: the record it keeps in memory and the heartbeat.

The worker's stages and the trainer's progress callback change the record; every write (the
stages' and the heartbeat thread's, every ``HEARTBEAT_SECONDS``) snapshots it whole, so
readers see a fresh heartbeat the whole time a worker lives, queued or training.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from arena_core.errors import ArenaError
from arena_core.session.manifest import SessionStatus, now_iso
from arena_core.session.strategy import ModelJob
from arena_core.store.records import (
    JobProgress,
    JobStatus,
    JobSummary,
    Overall,
    Progress,
    Summary,
    write_progress,
)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0  # how often a worker refreshes its heartbeat
_DONE = (JobStatus.COMPLETED, JobStatus.FAILED)  # steps that count as done in the overall ETA


class ProgressRecord:
    """One run's progress.json: the record, the lock guarding it and the heartbeat thread."""

    def __init__(self, folder: Path, session_id: str) -> None:
        self.folder = folder
        self._lock = threading.Lock()  # guards self.progress
        self._write_lock = threading.Lock()  # orders progress.json writes
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._rates: dict[str, tuple[float, int]] = {}  # job -> (time, step) of its first report
        self.progress = Progress(
            session=session_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            status=SessionStatus.QUEUED,
            started_at=now_iso(),
            jobs={},
            overall=Overall(),
        )

    # -------------------------------------------------------- writing
    def write(self) -> None:
        # One writer at a time, so an older snapshot never lands after a newer one.
        with self._write_lock:
            with self._lock:
                self.progress.overall = self._overall()
                snapshot = self.progress.model_copy(deep=True)
            try:
                write_progress(self.folder, snapshot)
            except ArenaError as exc:  # disk full etc.: keep training, the next beat retries
                log.warning("cannot write progress: %s", exc)

    def start_heartbeat(self) -> None:
        self._beat.start()

    def stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat.is_alive():
            self._beat.join(timeout=5)

    def _heartbeat(self) -> None:
        while not self._beat_stop.wait(HEARTBEAT_SECONDS):
            self.write()

    # -------------------------------------------------------- changes
    def update(self, **fields: Any) -> None:
        """Set top-level fields (status, slot, current_job, ...)."""
        with self._lock:
            for name, value in fields.items():
                setattr(self.progress, name, value)

    def plan_jobs(self, jobs: list[ModelJob]) -> None:
        """Every job of this run, queued."""
        with self._lock:
            for job in jobs:
                self.progress.jobs[job.id] = JobProgress(status=JobStatus.QUEUED)

    def set_job(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            entry = self.progress.jobs.setdefault(job_id, JobProgress())
            for name, value in fields.items():
                setattr(entry, name, value)

    def end_job(self, job_id: str, status: JobStatus, **fields: Any) -> None:
        """A job's final state: its status, end time and no ETA left."""
        self.set_job(job_id, status=status, ended_at=now_iso(), eta_seconds=None, **fields)

    def on_progress(self, job_id: str, step: int, total: int) -> None:
        """The trainer's progress callback: step, total and the job's ETA from its own pace."""
        now = time.time()
        with self._lock:
            first = self._rates.setdefault(job_id, (now, step))
            eta = None
            if step > first[1] and now > first[0]:
                eta = round((total - step) * (now - first[0]) / (step - first[1]), 1)
            entry = self.progress.jobs.setdefault(job_id, JobProgress())
            entry.step, entry.total_steps, entry.eta_seconds = int(step), int(total), eta

    def jobs(self, jobs: list[ModelJob]) -> dict[str, JobProgress]:
        """A copy of the entries of ``jobs`` (an empty entry for a job not recorded)."""
        with self._lock:
            return {
                job.id: self.progress.jobs.get(job.id, JobProgress()).model_copy() for job in jobs
            }

    def _overall(self) -> Overall:
        """Steps done/total over the jobs this run trains, and an ETA from this run's pace."""
        jobs = [j for j in self.progress.jobs.values() if not j.skipped]
        known = [j.total_steps for j in jobs if j.total_steps]
        if not known:
            return Overall()
        guess = sum(known) / len(known)  # jobs not started yet: assume the average size
        total = done = 0.0
        for job in jobs:
            size = job.total_steps or guess
            total += size
            done += size if job.status in _DONE else job.step
        paces = [
            (time.time() - t0) / (j.step - s0)
            for job_id, (t0, s0) in self._rates.items()
            if (j := self.progress.jobs.get(job_id)) and j.step > s0
        ]
        eta = round((total - done) * sum(paces) / len(paces), 1) if paces else None
        return Overall(steps_done=int(done), total_steps=int(total), eta_seconds=eta)

    # -------------------------------------------------------- the end
    def finish(self, jobs: list[ModelJob], status: SessionStatus, reason: str | None) -> Summary:
        """Record the run's end (a job left running ends with it); returns summary.json."""
        ended = now_iso()
        with self._lock:
            progress = self.progress
            progress.status, progress.ended_at, progress.current_job = status, ended, None
            progress.reason = reason
            if status is not SessionStatus.COMPLETED:
                left = (
                    JobStatus.CANCELLED if status is SessionStatus.CANCELLED else JobStatus.FAILED
                )
                for state in progress.jobs.values():
                    if state.status is JobStatus.RUNNING:
                        state.status = left
            return Summary(
                session=progress.session or "",
                status=status,
                reason=reason,
                started_at=progress.started_at,
                ended_at=ended,
                jobs={job.id: _job_summary(progress.jobs.get(job.id)) for job in jobs},
            )


def _job_summary(entry: JobProgress | None) -> JobSummary:
    if entry is None:
        return JobSummary()
    return JobSummary(
        status=entry.status,
        metrics=entry.metrics,
        error=entry.error,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
    )
