"""Job control for the CLI and the pages: launch, wait, cancel, resume, relaunch, status.

The worker runs as a detached process (its own session and process group), so a Streamlit
rerun or a server restart never kills it; everything here talks to it through the session
folder (manifest status, progress.json, locks) and signals. No streamlit, no torch.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import Timeout

from arena_core import settings
from arena_core.errors import ArenaError, SessionBusy, StorageError
from arena_core.run.queue import queue_state
from arena_core.run.slots import busy_message, file_lock, lock_is_held
from arena_core.session.manifest import SessionStatus
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.records import LAUNCHING, JobStatus, Progress, read_progress, write_progress
from arena_core.store.session_store import SessionStore
from arena_core.store.status import (
    ACTIVE,
    FINISHED,
    LAUNCH_MARKER_MAX_SECONDS,
    RESUMABLE,
    JobRow,
    effective_status,
    job_identity,
    job_rows,
    pid_alive,
    worker_alive,
)

if TYPE_CHECKING:
    from arena_core.session.relaunch import RelaunchChanges

log = logging.getLogger(__name__)

LAUNCH_GRACE_SECONDS = 5.0  # a launch younger than this blocks another even if its pid is gone
LAUNCH_LOCK_TIMEOUT = 30.0
EXIT_WAIT_SECONDS = 10.0  # a worker that reported its end releases its lock within this
# progress.json fields shown by session_status (the Monitor, 'status --json')
_SHOWN_PROGRESS = (
    "pid",
    "host",
    "heartbeat",
    "status",
    "started_at",
    "ended_at",
    "current_job",
    "slot",
    "queued_at",
    "overall",
)


def _worker_exiting(folder: Path, progress: Progress) -> bool:
    """Wait briefly for a worker that already wrote its final status to let go of its lock."""
    deadline = time.time() + EXIT_WAIT_SECONDS
    while lock_is_held(folder / paths.WORKER_LOCK):
        if progress.status not in FINISHED or time.time() > deadline:
            return True
        time.sleep(0.1)
    return False


def _busy(folder: Path) -> tuple[bool, int | None]:
    """(whether a worker lives or is starting for this session, its pid when known)."""
    progress = read_progress(folder)
    pid = progress.pid
    if progress.status == LAUNCHING:
        age = time.time() - (progress.launched_at or 0.0)
        if age < LAUNCH_GRACE_SECONDS or (
            age < LAUNCH_MARKER_MAX_SECONDS and pid and pid_alive(pid)
        ):
            return True, pid
    elif progress.status in ACTIVE and worker_alive(progress):
        return True, pid
    return _worker_exiting(folder, progress), pid


def _spawn(store: SessionStore, session_id: str, folder: Path) -> int:
    """Start ``python -m arena_core --home HOME run ID`` detached; output goes to worker.log."""
    # The installed package runs (requirements.txt installs it): no PYTHONPATH is injected.
    command = [sys.executable, "-m", "arena_core", "--home", str(store.home), "run", session_id]
    try:
        with open(folder / paths.WORKER_LOG, "ab") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: survives the launcher, killable as one
                close_fds=True,
            )
    except OSError as exc:
        raise StorageError(f"Cannot start the worker of session {session_id}: {exc}.") from exc
    # Reap it when it ends, so a long-lived launcher (the dashboard) keeps no zombies.
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return process.pid


def _start_worker(store: SessionStore, session_id: str, folder: Path) -> int:
    """Under the launch lock: refuse when busy, else mark queued, spawn, leave the marker."""
    busy, pid = _busy(folder)
    if busy:
        raise SessionBusy(busy_message(session_id, pid))
    previous = store.load(session_id)
    store.set_status(session_id, SessionStatus.QUEUED, "starting the worker")
    try:
        child = _spawn(store, session_id, folder)
    except ArenaError:
        store.set_status(session_id, previous.status, previous.status_reason)
        raise
    write_progress(
        folder,
        Progress(
            session=session_id,
            status=LAUNCHING,
            pid=child,
            launched_at=time.time(),
            launched_by=os.getpid(),
        ),
    )
    return child


def launch(store: SessionStore, session_id: str) -> None:
    """Start the session's worker in the background; status is 'queued' on return.

    Two launches at the same time (two processes, two browser tabs) start exactly one worker:
    the check and the 'launching' marker happen under the session's launch lock, and the other
    launch raises SessionBusy ("... is already running").
    """
    folder = store.existing_dir(session_id)
    manifest = store.load(session_id)
    if manifest.status is SessionStatus.IMPORTED:
        raise ArenaError(
            f"Session {session_id} was imported from the previous tool and has no data to train "
            f"here: relaunch it ('python -m arena_core relaunch {session_id}') instead."
        )
    plan(manifest)  # an incomplete manifest fails here, not later in the background
    settings.executor()  # so does an unknown ARENA_EXECUTOR
    lock = file_lock(folder / paths.LAUNCH_LOCK, timeout=LAUNCH_LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise SessionBusy(
            f"Session {session_id} is already running or being started by another launch "
            f"(its launch lock was held for {LAUNCH_LOCK_TIMEOUT:.0f} s): try again shortly."
        ) from None
    try:
        child = _start_worker(store, session_id, folder)
    finally:
        lock.release()
    log.info("launched worker pid %d for session %s", child, session_id)


def _progress_line(info: dict[str, Any]) -> str:
    jobs = info["jobs"]
    done = sum(j["status"] == JobStatus.COMPLETED for j in jobs)
    line = f"{info['session']}: {info['status']} {done}/{len(jobs)} models"
    if queue := info.get("queue"):
        line += f", place {queue['place']} of {queue['waiting']} waiting for a worker slot"
    current = info["progress"].get("current_job")
    for job in jobs:
        if job["id"] == current and job.get("total_steps"):
            percent = int(100 * job["step"] / job["total_steps"]) // 10 * 10
            line += f", {current} {percent}%"
    return line


def wait(
    store: SessionStore,
    session_id: str,
    poll: float = 1.0,
    quiet: bool = False,
    timeout: float | None = None,
) -> SessionStatus:
    """Poll until the session is no longer queued/running; print a line per change unless quiet."""
    deadline = None if timeout is None else time.time() + timeout
    last = None
    while True:
        info = session_status(store, session_id)
        status = SessionStatus(info["status"])
        line = _progress_line(info)
        if not quiet and line != last:
            print(line, flush=True)
            last = line
        if status not in ACTIVE:
            # Let the worker exit (release its lock) so an immediate resume is not refused.
            _worker_exiting(
                store.session_dir(session_id), read_progress(store.session_dir(session_id))
            )
            return status
        if deadline is not None and time.time() > deadline:
            raise ArenaError(f"Session {session_id} is still {status.value} after {timeout:.0f} s.")
        time.sleep(poll)


def _signal_worker(pid: int, sig: signal.Signals) -> None:
    """Signal the worker's whole process group when it leads one (a detached worker does)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def cancel(store: SessionStore, session_id: str, grace: float = 10.0) -> None:
    """Stop a queued or running session: SIGTERM, SIGKILL after ``grace`` s; status 'cancelled'."""
    folder = store.existing_dir(session_id)
    manifest = store.load(session_id)
    progress = read_progress(folder)
    status = effective_status(manifest.status, progress)
    launching = progress.status == LAUNCHING and _busy(folder)[0]
    if status not in ACTIVE and not launching:
        raise ArenaError(
            f"Session {session_id} is not running (status: {status.value}); nothing to cancel."
        )
    pid = progress.pid
    if pid and progress.host not in (None, "", socket.gethostname()):
        raise ArenaError(
            f"Session {session_id} runs on {progress.host}, not on this machine: cancel it there."
        )
    if pid and pid_alive(pid):
        _signal_worker(pid, signal.SIGTERM)
        deadline = time.time() + grace
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            log.warning("worker %s ignored SIGTERM for %.0f s: killing it", pid, grace)
            _signal_worker(pid, signal.SIGKILL)
            deadline = time.time() + 5
            while pid_alive(pid) and time.time() < deadline:
                time.sleep(0.05)
    if store.load(session_id).status in ACTIVE:  # the worker did not record its own end
        store.set_status(session_id, SessionStatus.CANCELLED, "cancelled by user")


def resume(store: SessionStore, session_id: str) -> None:
    """Restart an interrupted, failed or cancelled session: completed jobs are kept."""
    status = store.status(session_id)
    if status not in RESUMABLE:
        hint = {
            SessionStatus.COMPLETED: "every model is trained; relaunch it to train again",
            SessionStatus.READY: "it never started; start it instead",
            SessionStatus.QUEUED: "it is already queued",
            SessionStatus.RUNNING: "it is already running",
            SessionStatus.IMPORTED: "it was imported; relaunch it instead",
        }.get(status, "")
        raise ArenaError(
            f"Session {session_id} is {status.value}, so it cannot be resumed: {hint}. Only "
            "interrupted, failed or cancelled sessions can be resumed."
        )
    launch(store, session_id)


def relaunch(
    store: SessionStore,
    session_id: str,
    overrides: dict[str, Any] | None = None,
    start: bool = True,
    changes: RelaunchChanges | None = None,
) -> str:
    """A new session on the parent's data and split, with ``overrides`` (training settings) and
    ``changes`` (strategies, per-language) applied; returns its id."""
    from arena_core.session.relaunch import create_relaunch

    child = create_relaunch(store, session_id, overrides, changes)
    if start:
        launch(store, child.id)
    return child.id


def _job_state(row: JobRow) -> dict[str, Any]:
    """A job as the Monitor, ``status`` and ``wait`` show it."""
    return {
        "id": row.job.id,
        **job_identity(row.job),
        "status": row.status.value,
        "metrics": row.metrics,
        "baseline_macro_f1": row.baseline_macro_f1,
        "step": row.entry.step,
        "total_steps": row.entry.total_steps,
        "eta_seconds": row.eta_seconds,
        "error": row.entry.error,
        "node": row.entry.node,
    }


def session_status(store: SessionStore, session_id: str) -> dict[str, Any]:
    """Status to show: effective session status (dead worker => interrupted) and jobs in plan order."""
    folder = store.existing_dir(session_id)
    manifest = store.load(session_id)
    progress = read_progress(folder)
    status = effective_status(manifest.status, progress)
    try:
        jobs = plan(manifest)
    except ArenaError:  # an incomplete (imported) manifest: show what it saved
        jobs = list(manifest.plan)
    shown = {name: getattr(progress, name) for name in _SHOWN_PROGRESS}
    shown["overall"] = progress.overall.model_dump() if progress.overall else None
    return {
        "session": session_id,
        "status": status.value,
        "reason": manifest.status_reason,
        "jobs": [_job_state(row) for row in job_rows(folder, jobs, progress, status)],
        "progress": shown,
        "queue": _queue(store, session_id, status),
    }


def _queue(store: SessionStore, session_id: str, status: SessionStatus) -> dict[str, Any] | None:
    """Where a session waiting for a worker slot stands: ``{"place": 1-based, "waiting": how
    many wait, "running": [sessions holding the slots]}``; None when it is not waiting (also
    while its worker is still starting and has not joined the queue yet)."""
    if status is not SessionStatus.QUEUED:
        return None
    return queue_state(store.home, session_id)


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null", ""):
        return None
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return text.strip()


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['epochs=3', 'learning_rate=3e-5'] -> {'epochs': 3, 'learning_rate': 3e-05}."""
    overrides: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ArenaError(f"--set '{item}' must look like NAME=VALUE, e.g. epochs=3.")
        overrides[name] = _parse_value(value)
    return overrides
