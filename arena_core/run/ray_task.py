"""One job of a session, trained inside a Ray task on whichever node Ray placed it.

The task gets names, not objects (ARENA_HOME, the session id, the job id): it reads the manifest
from the session folder on shared storage and derives the job from ``plan(manifest)``, exactly as
the local worker does, so the manifest stays the single source of truth. It writes where the
local executor writes (the job folder, the session's metrics.jsonl) and reports where it runs
and how far it got in ``jobs/<id>/live.json``, which the session's worker folds into
progress.json (``run/ray_executor.py``). It stops at its next step once the worker writes the
session's stop request (a cancel), keeping its checkpoint.

No ray import here: Ray calls ``train_job_task`` like any function, so tests and the local
executor can too.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from arena_core.run.inputs import Inputs, load_inputs
from arena_core.run.session_log import session_log
from arena_core.session.manifest import SessionManifest, now_iso
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.records import JobLive, write_live
from arena_core.store.session_store import SessionStore
from arena_core.training.cancel import JobCancelled

log = logging.getLogger(__name__)

LIVE_EVERY_SECONDS = 1.0  # how often a job rewrites its live.json while it trains

# A Ray worker process runs job after job: the next job of the same session reuses the table and
# the tokenized texts instead of reading and tokenizing them again (one session kept at a time).
_LOADED: dict[tuple[str, str], Inputs] = {}


def _inputs(folder: Path, manifest: SessionManifest) -> Inputs:
    key = (str(folder), manifest.model_dump_json(include={"training", "dataset", "split"}))
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_inputs(folder, manifest)
    return _LOADED[key]


class LiveReport:
    """Keeps jobs/<id>/live.json current: written at the start, then at most once a second."""

    def __init__(self, job_dir: Path, node_id: str | None) -> None:
        self.job_dir = job_dir
        self.live = JobLive(
            host=socket.gethostname(), node_id=node_id, pid=os.getpid(), started_at=now_iso()
        )
        self._written = 0.0
        self.write()

    def write(self) -> None:
        write_live(self.job_dir, self.live)
        self._written = time.monotonic()

    def on_progress(self, step: int, total: int) -> None:
        self.live.step, self.live.total_steps = int(step), int(total)
        if step >= total or time.monotonic() - self._written >= LIVE_EVERY_SECONDS:
            self.write()


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray (a test calling the task directly)
        return None


def train_job_task(home: str, session_id: str, job_id: str, resume: bool) -> dict[str, Any]:
    """Train one job of a session into its job folder; returns its headline metrics.

    Raises what the job raised (JobCancelled on a stop request): Ray hands it to the worker.
    """
    store = SessionStore(Path(home))
    folder = store.existing_dir(session_id)
    manifest = store.load(session_id)
    [job] = [job for job in plan(manifest) if job.id == job_id]
    out_dir = paths.job_dir(folder, job.id)
    stop_file = folder / paths.STOP_REQUEST

    def should_stop() -> bool:
        return stop_file.exists()

    live = LiveReport(out_dir, _node_id())
    with session_log(folder):
        log.info(
            "job %s on %s (pid %d)%s", job.id, live.live.host, os.getpid(), " resuming" * resume
        )
        inputs = _inputs(folder, manifest)
        if should_stop():
            raise JobCancelled(f"{job.id}: cancelled before it started.")
        report = inputs.train(
            job,
            manifest.training,
            out_dir,
            folder / paths.METRICS,
            resume=resume,
            on_progress=live.on_progress,
            should_stop=should_stop,
        )
    live.write()
    return report.headline_metrics() if report is not None else {}
