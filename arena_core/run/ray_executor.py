"""The Ray executor (ARENA_EXECUTOR=ray): each job of a session is one Ray task.

The session's worker process (``run/worker.py``) stays the driver: it holds the session's lock
and slot, keeps progress.json's heartbeat and writes the final status, exactly as with the local
executor. Here it only submits the jobs left to train, each with its declared resources
(ARENA_RAY_CPUS_PER_JOB, ARENA_RAY_GPUS_PER_JOB), and follows them: Ray runs them in parallel as
far as the cluster's resources allow.

Results reach the session folder through shared storage: every node mounts ARENA_HOME at the same
path (on one machine, trivially), and a task writes its job folder and metrics lines there as the
local worker would (``run/ray_task.py``). Nothing is streamed back but the headline metrics.

What a user's actions mean here:
- cancel: the worker writes the stop request; running jobs stop at their next step and keep
  their checkpoint; jobs not started yet are cancelled in Ray; after STOP_GRACE_SECONDS the rest
  are force-cancelled.
- a task killed or a node lost: its job is 'interrupted' (Ray does not retry it: max_retries=0,
  so no step runs twice); resuming the session continues it from its last checkpoint.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from arena_core import settings
from arena_core.errors import TrainingError, short_error
from arena_core.run.ray_task import train_job_task
from arena_core.session.manifest import SessionManifest
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_bytes
from arena_core.store.records import JobStatus, read_live

if TYPE_CHECKING:
    from arena_core.run.worker import Worker

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the driver reads its jobs' live.json files
STOP_GRACE_SECONDS = 8.0  # then force-cancel (the launcher's cancel kills the driver after 10 s)
# What a Ray worker must see as the launcher saw it (the cluster was started with its own env).
FORWARDED_ENV_PREFIXES = ("ARENA_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def connect() -> Any:
    """The ``ray`` module, connected to ARENA_RAY_ADDRESS; a TrainingError saying what to do
    when Ray is missing or no cluster answers."""
    try:
        import ray
    except ImportError:
        raise TrainingError(
            f"{settings.EXECUTOR}=ray needs the ray package: run pip install -e '.[ray]' in the "
            f"repository (on every node of the cluster), or set {settings.EXECUTOR}=local."
        ) from None
    if ray.is_initialized():
        return ray
    address = settings.ray_address()
    _refuse_silent_address(address)
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    with _keep_signal_handlers():
        _init(ray, address, env)
    return ray


def _init(ray: Any, address: str, env: dict[str, str]) -> None:
    try:
        ray.init(
            address=address,
            namespace="training-arena",
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": env},
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise _no_cluster(address, str(exc)) from exc


@contextmanager
def _keep_signal_handlers() -> Iterator[None]:
    """ray.init installs its own SIGTERM handler, which would end the worker abruptly: keep the
    worker's (a cancel's SIGTERM sets its stop event, and the jobs stop cleanly)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            if handler is not None:
                signal.signal(sig, handler)


def _no_cluster(address: str, why: str) -> TrainingError:
    return TrainingError(
        f"No Ray cluster answers at {settings.RAY_ADDRESS}={address} ({why}). Start one with "
        f"'ray start --head' or point {settings.RAY_ADDRESS} at yours, or set "
        f"{settings.EXECUTOR}=local."
    )


def _refuse_silent_address(address: str) -> None:
    """A 'host:port' nobody listens on: fail now, not after ray.init's minute of retries."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return  # 'auto' finds the local cluster itself; 'ray://' is a client server
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except OSError as exc:
        raise _no_cluster(address, exc.strerror or str(exc)) from None


def _check_resources(ray: Any, cpus: float, gpus: float) -> None:
    """Refuse jobs no node of the cluster could ever run (they would wait forever)."""
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if not any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
        has = ", ".join(f"{n.get('CPU', 0):g} CPU/{n.get('GPU', 0):g} GPU" for n in nodes)
        raise TrainingError(
            f"No node of the Ray cluster ({has or 'no live node'}) has the {cpus:g} CPU and "
            f"{gpus:g} GPU each job asks for: lower {settings.RAY_CPUS_PER_JOB} or "
            f"{settings.RAY_GPUS_PER_JOB}, or add such a node."
        )


class RayRun:
    """Trains a worker's jobs as Ray tasks and records each one's end in its progress."""

    def __init__(self, worker: Worker, manifest: SessionManifest) -> None:
        self.worker = worker
        self.record = worker.record
        self.folder = worker.folder
        self.manifest = manifest
        self.pending: dict[Any, ModelJob] = {}  # Ray object ref -> job
        self.started: set[str] = set()
        self._stop_sent_at: float | None = None

    def train(self, jobs: list[ModelJob]) -> None:
        ray = connect()
        cpus, gpus = settings.ray_cpus_per_job(), settings.ray_gpus_per_job()
        _check_resources(ray, cpus, gpus)
        (self.folder / paths.STOP_REQUEST).unlink(missing_ok=True)  # a cancel of an earlier run
        task = ray.remote(train_job_task)
        home = str(self.worker.store.home)
        for job in jobs:
            resume = (paths.job_dir(self.folder, job.id) / paths.JOB_CHECKPOINT).is_dir()
            (paths.job_dir(self.folder, job.id) / paths.JOB_LIVE).unlink(missing_ok=True)
            self.record.set_job(job.id, status=JobStatus.QUEUED, error=None, resumed=resume)
            ref = task.options(
                num_cpus=cpus, num_gpus=gpus, max_retries=0, name=f"{self.manifest.id}/{job.id}"
            ).remote(home, self.manifest.id, job.id, resume)
            self.pending[ref] = job
        log.info("%d jobs submitted to Ray (%g CPU, %g GPU each)", len(jobs), cpus, gpus)
        self.record.write()
        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in done:
                self._collect(ray, ref, self.pending.pop(ref))
            self._follow()
            if self.worker.stop.is_set():
                self._stop(ray)
        self.record.update(current_job=None)
        self.record.write()

    def _follow(self) -> None:
        """Fold the running jobs' live.json into progress.json (node, start, steps)."""
        running = []
        for job in self.pending.values():
            live = read_live(paths.job_dir(self.folder, job.id))
            if live is None:
                continue
            running.append(job.id)
            if job.id not in self.started:
                self.started.add(job.id)
                log.info("job %s started on %s (pid %s)", job.id, live.host, live.pid)
                self.record.set_job(
                    job.id, status=JobStatus.RUNNING, started_at=live.started_at, node=live.host
                )
            if live.total_steps:
                self.record.on_progress(job.id, live.step, live.total_steps)
        self.record.update(current_job=running[0] if running else None)
        self.record.write()

    def _collect(self, ray: Any, ref: Any, job: ModelJob) -> None:
        """Record how one job ended, from its task's result or error."""
        from ray.exceptions import RayTaskError, TaskCancelledError

        from arena_core.training.cancel import JobCancelled

        live = read_live(paths.job_dir(self.folder, job.id))
        node = live.host if live is not None else None
        try:
            metrics = ray.get(ref)
        except RayTaskError as exc:  # the job itself raised: as with the local executor
            cause = exc.cause if exc.cause is not None else exc
            if isinstance(cause, JobCancelled):
                log.info("job %s cancelled", job.id)
                self.record.end_job(job.id, JobStatus.CANCELLED, node=node)
            else:
                log.error("job %s failed: %s", job.id, cause)
                self.record.end_job(job.id, JobStatus.FAILED, error=short_error(cause), node=node)
        except TaskCancelledError:
            self.record.end_job(job.id, JobStatus.CANCELLED, node=node)
        except Exception as exc:  # the task's process or node died (killed, out of memory, lost)
            if self.worker.stop.is_set():
                self.record.end_job(job.id, JobStatus.CANCELLED, node=node)
                return
            where = f" on {node}" if node else ""
            log.error("job %s interrupted: its Ray task died%s: %s", job.id, where, exc)
            self.record.end_job(
                job.id,
                JobStatus.INTERRUPTED,
                node=node,
                error=f"its Ray task died{where} ({type(exc).__name__}); resume continues it "
                "from its last checkpoint",
            )
        else:
            log.info("job %s completed on %s: %s", job.id, node, metrics)
            self.record.end_job(job.id, JobStatus.COMPLETED, metrics=metrics, node=node)
        self.record.write()

    def _stop(self, ray: Any) -> None:
        """A cancel: ask running jobs to stop, drop unstarted ones, force the rest after a grace."""
        now = time.monotonic()
        if self._stop_sent_at is None:
            self._stop_sent_at = now
            atomic_write_bytes(self.folder / paths.STOP_REQUEST, b"stop\n", durable=False)
            for ref, job in self.pending.items():
                if job.id not in self.started:
                    ray.cancel(ref)
            log.info("stop requested: %d Ray jobs asked to stop", len(self.pending))
        elif now - self._stop_sent_at > STOP_GRACE_SECONDS:
            for ref in self.pending:
                ray.cancel(ref, force=True)
