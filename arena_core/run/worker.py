"""The worker: trains every job of one session in this process (``python -m arena_core run ID``).

Stages: take the session's worker lock, wait for a machine-wide slot (status 'queued'), load the
data once, train each job of ``plan(manifest)`` in order (skipping completed ones, resuming from
a checkpoint), then record the final status and ``summary.json``. A heartbeat thread keeps
``progress.json`` fresh the whole time, so a worker that dies reads as 'interrupted'.

Everything comes from the store and the manifest (no global state), so the same function could
later run under another executor with the session folder on shared storage.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from arena_core import settings
from arena_core.errors import ArenaError, SessionBusy, StorageError, TrainingError
from arena_core.session.manifest import SessionManifest, SessionStatus, now_iso
from arena_core.session.strategy import ModelJob, plan
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json
from arena_core.store.progress import HEARTBEAT_SECONDS, read_progress, write_progress
from arena_core.store.session_store import SessionStore

log = logging.getLogger(__name__)

SLOT_POLL_SECONDS = 1.0
WORKER_LOCK_WAIT_SECONDS = 1.0
LAUNCH_HANDSHAKE_SECONDS = 60.0  # how long a starting worker waits for its launcher's marker

# Job statuses in progress.json
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
)
_NEW_JOB = {
    "status": QUEUED,
    "step": 0,
    "total_steps": None,
    "eta_seconds": None,
    "error": None,
    "metrics": {},
    "started_at": None,
    "ended_at": None,
}
METRIC_NAMES = ("macro_f1", "accuracy", "micro_f1", "loss")  # scalars shown per job


# ---------------------------------------------------------------- locks and slots


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


# ---------------------------------------------------------------- helpers


def read_report(out_dir: Path) -> dict[str, Any] | None:
    """A job's report.json, or None when absent or unreadable."""
    try:
        report = read_json(out_dir / paths.JOB_REPORT)
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def report_metrics(report: dict[str, Any] | None) -> dict[str, Any]:
    """Headline scalar metrics of a report: validation ones, then ``test_``-prefixed test ones."""
    if not report:
        return {}
    found: dict[str, Any] = {}
    for prefix, source in (("", report.get("metrics")), ("test_", report.get("test_metrics"))):
        if not isinstance(source, dict):
            continue
        for name in METRIC_NAMES:
            value = source.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[prefix + name] = value
    return found


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:400]}" if text else type(exc).__name__


@contextmanager
def _worker_log(session_dir: Path) -> Iterator[None]:
    """Send this package's logs to the session's worker.log for the life of the worker.

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


def _same_file(stream: Any, path: Path) -> bool:
    try:
        a, b = os.fstat(stream.fileno()), os.stat(path)
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# ---------------------------------------------------------------- the worker


class Worker:
    """One run of one session. Holds the progress record that the heartbeat thread writes."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.folder = store.existing_dir(session_id)
        self.stop = threading.Event()
        self._lock = threading.Lock()  # guards self.progress
        self._write_lock = threading.Lock()  # orders progress.json writes
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self._rates: dict[str, tuple[float, int]] = {}  # job -> (time, step) of its first report
        self.progress: dict[str, Any] = {
            "session": session_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "status": QUEUED,
            "started_at": now_iso(),
            "current_job": None,
            "slot": None,
            "jobs": {},
            "overall": {"steps_done": 0, "total_steps": None, "eta_seconds": None},
        }

    # -------------------------------------------------------- progress record
    def _write(self) -> None:
        # One writer at a time, so an older snapshot never lands after a newer one.
        with self._write_lock:
            with self._lock:
                self.progress["overall"] = self._overall()
                snapshot = {
                    **self.progress,
                    "jobs": {k: dict(v) for k, v in self.progress["jobs"].items()},
                }
            try:
                write_progress(self.folder, snapshot)
            except ArenaError as exc:  # disk full etc.: keep training, the next beat retries
                log.warning("cannot write progress: %s", exc)

    def _heartbeat(self) -> None:
        while not self._beat_stop.wait(HEARTBEAT_SECONDS):
            self._write()

    def _set_job(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            self.progress["jobs"].setdefault(job_id, {}).update(fields)

    def _end_job(self, job_id: str, status: str, **fields: Any) -> None:
        """A job's final state: its status, end time and no ETA left."""
        self._set_job(job_id, status=status, ended_at=now_iso(), eta_seconds=None, **fields)

    def _on_progress(self, job_id: str, step: int, total: int) -> None:
        now = time.time()
        with self._lock:
            first = self._rates.setdefault(job_id, (now, step))
            eta = None
            if step > first[1] and now > first[0]:
                eta = round((total - step) * (now - first[0]) / (step - first[1]), 1)
            self.progress["jobs"].setdefault(job_id, {}).update(
                step=int(step), total_steps=int(total), eta_seconds=eta
            )

    def _overall(self) -> dict[str, Any]:
        """Steps done/total over the jobs this run trains, and an ETA from this run's pace."""
        jobs = [j for j in self.progress["jobs"].values() if not j.get("skipped")]
        known = [j["total_steps"] for j in jobs if j.get("total_steps")]
        if not known:
            return {"steps_done": 0, "total_steps": None, "eta_seconds": None}
        guess = sum(known) / len(known)  # jobs not started yet: assume the average size
        total = done = 0.0
        for job in jobs:
            size = job.get("total_steps") or guess
            total += size
            done += size if job.get("status") in (COMPLETED, FAILED) else job.get("step", 0)
        paces = [
            (time.time() - t0) / (j.get("step", 0) - s0)
            for job_id, (t0, s0) in self._rates.items()
            if (j := self.progress["jobs"].get(job_id)) and j.get("step", 0) > s0
        ]
        eta = round((total - done) * sum(paces) / len(paces), 1) if paces else None
        return {"steps_done": int(done), "total_steps": int(total), "eta_seconds": eta}

    # -------------------------------------------------------- stages
    def run(self) -> SessionStatus:
        jobs: list[ModelJob] = []
        status, reason = SessionStatus.FAILED, None
        try:
            manifest = self.store.load(self.session_id)
            jobs = plan(manifest)  # derived from the manifest only, never stored apart from it
            for job in jobs:
                self._set_job(job.id, **_NEW_JOB)
            status, reason = self._run_with_slot(manifest, jobs)
        except ArenaError as exc:
            log.error("session %s failed: %s", self.session_id, exc)
            reason = str(exc)
        except Exception as exc:  # a bug or a crash outside any job: still a clean end
            log.exception("session %s failed", self.session_id)
            reason = short_error(exc)
        finally:
            self._beat_stop.set()
            if self._beat.is_alive():
                self._beat.join(timeout=5)
            self._finish(jobs, status, reason)
        return status

    def _run_with_slot(
        self, manifest: SessionManifest, jobs: list[ModelJob]
    ) -> tuple[SessionStatus, str | None]:
        limit = settings.max_workers()
        slot = try_slot(self.store.home, limit)
        if slot is None:
            why = (
                f"waiting for a free worker slot (all {limit} busy; {settings.MAX_WORKERS}={limit})"
            )
            log.info("session %s queued: %s", self.session_id, why)
            self.store.set_status(self.session_id, SessionStatus.QUEUED, why)
        # The heartbeat starts once the slot question is settled, so progress says 'queued' only
        # when the manifest says why; until then the launcher's marker (this pid) stands for it.
        self._write()
        self._beat.start()
        while slot is None:  # not FIFO: whichever waiting worker polls first takes a free slot
            if self.stop.wait(SLOT_POLL_SECONDS):
                return SessionStatus.CANCELLED, "cancelled while queued"
            slot = try_slot(self.store.home, limit)
        index, lock = slot
        try:
            with self._lock:
                self.progress.update(status=RUNNING, slot=index, running_since=now_iso())
            self.store.set_status(self.session_id, SessionStatus.RUNNING)
            self._write()
            log.info("session %s running in slot %d: %d jobs", self.session_id, index, len(jobs))
            return self._train_all(manifest, jobs)
        finally:
            lock.release()

    def _load_inputs(self, manifest: SessionManifest) -> dict[str, Any]:
        """The data every job shares: table, split, tokenizer and the texts encoded once."""
        import pandas as pd

        from arena_core.data.splits import read_split
        from arena_core.training.models import load_tokenizer, resolve_model
        from arena_core.training.tokens import encode_texts

        snapshot = self.folder / manifest.dataset.snapshot_file
        try:
            table = pd.read_parquet(snapshot)
        except (OSError, ValueError) as exc:
            raise TrainingError(
                f"Session {self.session_id}: the dataset snapshot {snapshot} cannot be read "
                f"({exc}). Run 'python -m arena_core check {self.session_id}'."
            ) from exc
        split, digest = read_split(self.folder / manifest.split.file)
        if manifest.split.sha256 is None:
            log.warning("session %s has no split hash to verify", self.session_id)
        elif digest != manifest.split.sha256:
            raise TrainingError(
                f"Session {self.session_id}: the split file {manifest.split.file} does not match "
                "the split recorded in the manifest (hash differs), so results would not be "
                "comparable. Relaunch from an intact session instead."
            )
        missing = set(table["row"]) - set(split["row"])
        if missing:
            raise TrainingError(
                f"Session {self.session_id}: {len(missing)} dataset rows have no split entry "
                f"(e.g. row {min(missing)}). Relaunch from an intact session instead."
            )
        tokenizer = load_tokenizer(resolve_model(manifest.training.model))
        encoded = encode_texts(tokenizer, table["text"].tolist(), manifest.training.max_length)
        return {"table": table, "split": split, "tokenizer": tokenizer, "encoded": encoded}

    def _train_all(
        self, manifest: SessionManifest, jobs: list[ModelJob]
    ) -> tuple[SessionStatus, str | None]:
        from arena_core.store.metrics_log import MetricsWriter

        todo = []
        for job in jobs:  # resume: completed jobs are kept as they are
            report = read_report(paths.job_dir(self.folder, job.id))
            if report and report.get("status") == COMPLETED:
                log.info("job %s already completed: skipped", job.id)
                self._set_job(
                    job.id, status=COMPLETED, skipped=True, metrics=report_metrics(report)
                )
            else:
                todo.append(job)
        if not todo:
            return SessionStatus.COMPLETED, None
        inputs = self._load_inputs(manifest) if not self.stop.is_set() else {}
        from arena_core.training.trainer import (  # torch: only once the inputs are sound
            JobCancelled,
            train_job,
        )

        metrics_path = self.folder / paths.METRICS
        for job in todo:
            if self.stop.is_set():
                break
            out_dir = paths.job_dir(self.folder, job.id)
            # With a checkpoint the trainer continues from it (and drops the job's metric lines
            # after it); without one it starts over and drops all of them.
            resume = (out_dir / paths.JOB_CHECKPOINT).is_dir()
            log.info("job %s: %s", job.id, "resuming from its checkpoint" if resume else "start")
            with self._lock:
                self.progress["current_job"] = job.id
            self._set_job(job.id, status=RUNNING, started_at=now_iso(), error=None, resumed=resume)
            self._write()
            try:
                report = train_job(
                    job,
                    manifest.training,
                    inputs["table"],
                    inputs["split"],
                    out_dir,
                    MetricsWriter(metrics_path),
                    encoded=inputs["encoded"],
                    tokenizer=inputs["tokenizer"],
                    resume=resume,
                    on_progress=lambda step, total, _id=job.id: self._on_progress(_id, step, total),
                    should_stop=self.stop.is_set,
                )
            except JobCancelled:
                log.info("job %s cancelled", job.id)
                self._end_job(job.id, CANCELLED)
            except Exception as exc:  # TrainingError, RuntimeError, MemoryError, ...
                log.error("job %s failed: %s\n%s", job.id, exc, traceback.format_exc())
                self._end_job(job.id, FAILED, error=short_error(exc))
                if isinstance(exc, StorageError):  # a full or read-only disk fails every job
                    log.error("stopping: the session folder cannot be written")
                    with self._lock:
                        self.progress["current_job"] = None
                    break
            else:
                report = report or read_report(out_dir) or {}
                log.info("job %s completed: %s", job.id, report_metrics(report))
                self._end_job(job.id, COMPLETED, metrics=report_metrics(report))
            with self._lock:
                self.progress["current_job"] = None
            self._write()
        return self._outcome(jobs)

    def _outcome(self, jobs: list[ModelJob]) -> tuple[SessionStatus, str | None]:
        states = {job.id: self.progress["jobs"].get(job.id, {}) for job in jobs}
        if all(v.get("status") == COMPLETED for v in states.values()):
            return SessionStatus.COMPLETED, None
        if self.stop.is_set():
            done = sum(v.get("status") == COMPLETED for v in states.values())
            return SessionStatus.CANCELLED, f"cancelled by user after {done} of {len(jobs)} jobs"
        failed = {k: v.get("error") for k, v in states.items() if v.get("status") == FAILED}
        if failed:
            listed = "; ".join(f"{k}: {v}" for k, v in failed.items())
            return SessionStatus.FAILED, f"{len(failed)} of {len(jobs)} jobs failed: {listed}"
        left = [k for k, v in states.items() if v.get("status") != COMPLETED]
        return (
            SessionStatus.FAILED,
            f"{len(left)} of {len(jobs)} jobs did not finish: {', '.join(left)}",
        )

    def _finish(self, jobs: list[ModelJob], status: SessionStatus, reason: str | None) -> None:
        """Final progress, summary.json and the manifest status (always, even after a crash)."""
        ended = now_iso()
        with self._lock:
            self.progress.update(status=status.value, ended_at=ended, current_job=None)
            self.progress["reason"] = reason
            if status is not SessionStatus.COMPLETED:
                for state in self.progress["jobs"].values():
                    if state.get("status") == RUNNING:
                        state["status"] = CANCELLED if status is SessionStatus.CANCELLED else FAILED
            summary = {
                "session": self.session_id,
                "status": status.value,
                "reason": reason,
                "started_at": self.progress["started_at"],
                "ended_at": ended,
                "jobs": {
                    job.id: {
                        key: self.progress["jobs"].get(job.id, {}).get(key)
                        for key in ("status", "metrics", "error", "started_at", "ended_at")
                    }
                    for job in jobs
                },
            }
        self._write()
        with suppress(ArenaError):
            atomic_write_json(self.folder / paths.SUMMARY, summary)
        self.store.set_status(self.session_id, status, reason)
        self.store.refresh_listing(self.session_id)  # the session browser's row, ready to read
        log.info("session %s %s%s", self.session_id, status.value, f": {reason}" if reason else "")


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
        raise SessionBusy(busy_message(session_id, read_progress(folder).get("pid"))) from None
    try:
        # A launcher writes its 'launching' marker under the launch lock: wait until it is done,
        # so the marker never overwrites this worker's first progress record.
        with file_lock(folder / paths.LAUNCH_LOCK, timeout=LAUNCH_HANDSHAKE_SECONDS):
            pass
        worker = Worker(store, session_id)
        with _worker_log(folder), _stop_on_signals(worker.stop):
            log.info(
                "worker pid %d on %s for session %s", os.getpid(), socket.gethostname(), session_id
            )
            return worker.run()
    finally:
        worker_lock.release()
