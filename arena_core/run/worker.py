"""The worker: trains every job of one session in this process (``python -m arena_core run ID``).

Stages: take the session's worker lock, wait for a machine-wide slot (status 'queued'), load the
data once, train each job of ``plan(manifest)`` in order (skipping completed ones, resuming from
a checkpoint), then record the final status and ``summary.json``. A heartbeat thread keeps
``progress.json`` fresh the whole time (``run/progress_record.py``), so a worker that dies reads
as 'interrupted'. Locks and slots: ``run/slots.py``; the wait for a slot, first come first
served: ``run/queue.py``.

Everything comes from the store and the manifest (no global state). With ARENA_EXECUTOR=ray
this process stays the session's driver (locks, slot, heartbeat, final status) and each job
runs as a Ray task on the cluster, writing into the same session folder on shared storage
(``run/ray_executor.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from filelock import Timeout

from arena_core import settings
from arena_core.errors import ArenaError, SessionBusy, StorageError, short_error
from arena_core.run import queue
from arena_core.run.inputs import Inputs, load_inputs
from arena_core.run.progress_record import ProgressRecord
from arena_core.run.session_log import session_log
from arena_core.run.slots import busy_message, file_lock, try_slot
from arena_core.session.manifest import SessionManifest, SessionStatus, now_iso
from arena_core.session.plan import plan
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.records import (
    JobProgress,
    JobStatus,
    read_progress,
    read_report,
    write_summary,
)
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)

SLOT_POLL_SECONDS = 1.0
WORKER_LOCK_WAIT_SECONDS = 1.0
LAUNCH_HANDSHAKE_SECONDS = 60.0  # how long a starting worker waits for its launcher's marker


def _outcome(
    jobs: list[ModelJob], states: dict[str, JobProgress], stopped: bool
) -> tuple[SessionStatus, str | None]:
    """The session's status and reason once its jobs ran (or stopped)."""
    statuses = {job_id: state.status for job_id, state in states.items()}
    done = sum(status is JobStatus.COMPLETED for status in statuses.values())
    if done == len(states):
        return SessionStatus.COMPLETED, None
    if stopped:
        return SessionStatus.CANCELLED, f"cancelled by user after {done} of {len(jobs)} jobs"
    failed = {k: v.error for k, v in states.items() if v.status is JobStatus.FAILED}
    lost = [k for k, v in states.items() if v.status is JobStatus.INTERRUPTED]
    if lost and not failed:  # a Ray task or node died: its checkpoint is there to resume from
        return SessionStatus.INTERRUPTED, (
            f"{len(lost)} of {len(jobs)} jobs were interrupted ({', '.join(lost)}): resume the "
            "session to continue them from their last checkpoints."
        )
    if failed:
        listed = "; ".join(f"{k}: {v}" for k, v in failed.items())
        return SessionStatus.FAILED, f"{len(failed)} of {len(jobs)} jobs failed: {listed}"
    left = [k for k, status in statuses.items() if status is not JobStatus.COMPLETED]
    return (
        SessionStatus.FAILED,
        f"{len(left)} of {len(jobs)} jobs did not finish: {', '.join(left)}",
    )


class Worker:
    """One run of one session; its progress.json record is ``self.record``."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.folder = store.existing_dir(session_id)
        self.stop = threading.Event()
        self.record = ProgressRecord(self.folder, session_id)

    # -------------------------------------------------------- stages
    def run(self) -> SessionStatus:
        jobs: list[ModelJob] = []
        status, reason = SessionStatus.FAILED, None
        try:
            manifest = self.store.load(self.session_id)
            jobs = plan(manifest)  # derived from the manifest only, never stored apart from it
            self.record.plan_jobs(jobs)
            status, reason = self._run_with_slot(manifest, jobs)
        except ArenaError as exc:
            log.error("session %s failed: %s", self.session_id, exc)
            reason = str(exc)
        except Exception as exc:  # a bug or a crash outside any job: still a clean end
            log.exception("session %s failed", self.session_id)
            reason = short_error(exc)
        finally:
            self.record.stop_heartbeat()
            self._finish(jobs, status, reason)
        return status

    def _run_with_slot(
        self, manifest: SessionManifest, jobs: list[ModelJob]
    ) -> tuple[SessionStatus, str | None]:
        limit = settings.max_workers()
        slot = self._take_slot(limit)
        if slot is None:
            return SessionStatus.CANCELLED, "cancelled while queued"
        index, lock = slot
        try:
            queue.claim(self.store.home, index, self.session_id)
            self.record.update(status=SessionStatus.RUNNING, slot=index, running_since=now_iso())
            self.record.write()  # before the manifest: whoever reads 'running' finds the slot
            self.store.set_status(self.session_id, SessionStatus.RUNNING)
            log.info("session %s running in slot %d: %d jobs", self.session_id, index, len(jobs))
            return self._train_all(manifest, jobs)
        finally:
            queue.unclaim(self.store.home, index)
            lock.release()

    def _take_slot(self, limit: int) -> tuple[int, Any] | None:
        """A slot, first come first served (``run/queue.py``); None when cancelled meanwhile.

        A free slot is taken at once only when nobody waits for one; otherwise this worker
        takes a ticket at the end of the queue and tries the slots when its turn comes.
        """
        home = self.store.home
        slot = None if queue.waiting(home) else try_slot(home, limit)
        ticket = None
        if slot is None:
            ticket = queue.join(home, self.session_id)
            why = (
                f"waiting for a free worker slot (all {limit} busy; {settings.MAX_WORKERS}={limit})"
            )
            log.info("session %s queued: %s", self.session_id, why)
            self.record.update(queued_at=ticket.queued_at)
            self.store.set_status(self.session_id, SessionStatus.QUEUED, why)
        # The heartbeat starts once the slot question is settled, so progress says 'queued' only
        # when the manifest says why; until then the launcher's marker (this pid) stands for it.
        self.record.write()
        self.record.start_heartbeat()
        try:
            while slot is None:
                if self.stop.wait(SLOT_POLL_SECONDS):
                    return None
                if queue.my_turn(home, ticket, limit):
                    slot = try_slot(home, limit)
        finally:
            if ticket is not None:
                ticket.leave()  # only now: nobody behind may take the slot we are taking
        return slot

    def _skip_completed(self, jobs: list[ModelJob]) -> list[ModelJob]:
        """The jobs left to train; completed ones (resume) are kept as they are."""
        todo = []
        for job in jobs:
            report = read_report(paths.job_dir(self.folder, job.id))
            if report is not None and report.completed:
                log.info("job %s already completed: skipped", job.id)
                self.record.set_job(
                    job.id,
                    status=JobStatus.COMPLETED,
                    skipped=True,
                    metrics=report.headline_metrics(),
                )
            else:
                todo.append(job)
        return todo

    def _train_all(
        self, manifest: SessionManifest, jobs: list[ModelJob]
    ) -> tuple[SessionStatus, str | None]:
        todo = self._skip_completed(jobs)
        if not todo:
            return SessionStatus.COMPLETED, None
        if settings.executor() == "ray":  # one Ray task per job, across the cluster
            from arena_core.run.ray_executor import RayRun

            RayRun(self, manifest).train(todo)
            return _outcome(jobs, self.record.jobs(jobs), self.stop.is_set())
        inputs = load_inputs(self.folder, manifest) if not self.stop.is_set() else None
        for job in todo:
            if self.stop.is_set() or inputs is None:
                break
            if not self._train_one(manifest, job, inputs):
                break
        return _outcome(jobs, self.record.jobs(jobs), self.stop.is_set())

    def _train_one(self, manifest: SessionManifest, job: ModelJob, inputs: Inputs) -> bool:
        """Train one job and record how it ended; False when the run must stop (disk)."""
        from arena_core.training.cancel import JobCancelled

        out_dir = paths.job_dir(self.folder, job.id)
        # With a checkpoint the trainer continues from it (and drops the job's metric lines
        # after it); without one it starts over and drops all of them.
        resume = (out_dir / paths.JOB_CHECKPOINT).is_dir()
        log.info("job %s: %s", job.id, "resuming from its checkpoint" if resume else "start")
        self.record.update(current_job=job.id)
        self.record.set_job(
            job.id, status=JobStatus.RUNNING, started_at=now_iso(), error=None, resumed=resume
        )
        self.record.write()
        try:
            report = inputs.train(
                job,
                manifest.training,
                out_dir,
                self.folder / paths.METRICS,
                resume=resume,
                on_progress=lambda step, total: self.record.on_progress(job.id, step, total),
                should_stop=self.stop.is_set,
            )
        except JobCancelled:
            log.info("job %s cancelled", job.id)
            self.record.end_job(job.id, JobStatus.CANCELLED)
        except Exception as exc:  # TrainingError, RuntimeError, MemoryError, ...
            log.error("job %s failed: %s\n%s", job.id, exc, traceback.format_exc())
            self.record.end_job(job.id, JobStatus.FAILED, error=short_error(exc))
            if isinstance(exc, StorageError):  # a full or read-only disk fails every job
                log.error("stopping: the session folder cannot be written")
                self.record.update(current_job=None)
                return False
        else:
            report = report or read_report(out_dir)
            metrics = report.headline_metrics() if report is not None else {}
            log.info("job %s completed: %s", job.id, metrics)
            self.record.end_job(job.id, JobStatus.COMPLETED, metrics=metrics)
        self.record.update(current_job=None)
        self.record.write()
        return True

    def _finish(self, jobs: list[ModelJob], status: SessionStatus, reason: str | None) -> None:
        """Final progress, summary.json and the manifest status (always, even after a crash)."""
        summary = self.record.finish(jobs, status, reason)
        self.record.write()
        with suppress(ArenaError):
            write_summary(self.folder, summary)
        self.store.set_status(self.session_id, status, reason)
        self.store.refresh_listing(self.session_id)  # the session browser's row, ready to read
        log.info("session %s %s%s", self.session_id, status.value, f": {reason}" if reason else "")


# ---------------------------------------------------------------- the process


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (polled by the trainer) instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        log.warning("received %s: stopping at the next step", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_session(store: SessionStore, session_id: str) -> SessionStatus:
    """Train a session in this process; returns its final status.

    Raises SessionBusy when another worker holds the session (nothing is changed then).
    """
    folder = store.existing_dir(session_id)
    store.load(session_id)  # a damaged manifest fails here, before any lock or status change
    # A short wait, not none: a reader probing the lock (lock_is_held) holds it for an instant.
    worker_lock = file_lock(folder / paths.WORKER_LOCK, timeout=WORKER_LOCK_WAIT_SECONDS)
    try:
        worker_lock.acquire()
    except Timeout:
        raise SessionBusy(busy_message(session_id, read_progress(folder).pid)) from None
    try:
        # A launcher writes its 'launching' marker under the launch lock: wait until it is done,
        # so the marker never overwrites this worker's first progress record.
        with file_lock(folder / paths.LAUNCH_LOCK, timeout=LAUNCH_HANDSHAKE_SECONDS):
            pass
        worker = Worker(store, session_id)
        with session_log(folder), _stop_on_signals(worker.stop):
            log.info(
                "worker pid %d on %s for session %s", os.getpid(), socket.gethostname(), session_id
            )
            return worker.run()
    finally:
        worker_lock.release()
