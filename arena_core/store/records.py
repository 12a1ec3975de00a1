"""The JSON records of a session folder, one pydantic model each, shared by writers and readers.

``progress.json`` (``Progress``: the worker's heartbeat and per-job ``JobProgress``, written by
the worker and the launch marker only), ``jobs/<id>/report.json`` (``JobReport``, written by the
trainer when a job completes), ``summary.json`` (``Summary``, written when the worker ends) and
the session browser's row (``ListingRow``, cached in ``listing.json``).

Readers never raise on a damaged file: a field of the wrong type reads as absent, field by field
(``_tolerant``), and a file that is not a JSON object reads as no record at all. What a reader
should *believe* (a dead worker, a job's effective status) is derived in ``store/status.py``.
"""

from __future__ import annotations

import os
import socket
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, Strict, ValidationError

from arena_core.errors import ArenaError
from arena_core.session.manifest import SessionStatus
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json


class JobStatus(StrEnum):
    """A job's status, as written in progress.json and report.json or derived for readers."""

    QUEUED = "queued"  # planned in this run, not started yet
    RUNNING = "running"
    COMPLETED = "completed"  # report.json written
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its worker (derived) or its Ray task (recorded) died meanwhile
    NOT_STARTED = "not started"  # derived: neither a progress entry nor a report (job results)


LAUNCHING = "launching"  # progress.json status between a launch and the worker's first beat
UNREADABLE = "unreadable"  # a listing row whose manifest cannot be read

# progress.json's status: the launch marker, then the worker's session status.
ProgressStatus = SessionStatus | Literal["launching"]
ListingStatus = SessionStatus | Literal["unreadable"]

# progress.json is read strictly: "3" or true is not a number there (it reads as absent).
Count = Annotated[int, Strict()]
Seconds = Annotated[float, Strict()]  # an int is accepted (read as a float)
Score = Annotated[float, Strict()]

METRIC_NAMES = ("macro_f1", "accuracy", "micro_f1", "loss")  # headline scalars of a job


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Remove the value at ``loc`` (as deep as the path exists); False when nothing was there."""
    parent: dict[str, Any] | None = None
    key: Any = None
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            break
        parent, key, node = node, part, node[part]
    if parent is None:
        return False
    del parent[key]
    return True


class _Record(BaseModel):
    # A newer writer's fields survive a read and a rewrite by this version.
    model_config = ConfigDict(extra="allow")

    @classmethod
    def _tolerant(cls, data: object) -> Self | None:
        """``data`` as this record, fields of the wrong type dropped (read as absent); None when
        ``data`` is not a JSON object. Never raises. ``data`` may lose fields."""
        if not isinstance(data, dict):
            return None
        for _ in range(100):  # each round drops at least one field
            try:
                return cls.model_validate(data)
            except ValidationError as exc:
                dropped = [_drop(data, error["loc"]) for error in exc.errors()]
                if not any(dropped):
                    return None
        return None

    def to_json(self) -> dict[str, Any]:
        """The record as written to disk (plain JSON types)."""
        return self.model_dump(mode="json")


def _write(path: Path, record: BaseModel, durable: bool = True) -> None:
    # Python-mode dump, serialised like every other JSON file of the store (default=str).
    atomic_write_json(path, record.model_dump(), durable=durable)


def _read(path: Path) -> object:
    """The parsed JSON of ``path``, or None when absent or unreadable."""
    try:
        return read_json(path)
    except (OSError, ValueError, ArenaError):
        return None


# ---------------------------------------------------------------- progress.json


class JobProgress(_Record):
    """One job in progress.json."""

    status: JobStatus | None = None
    step: Count = 0
    total_steps: Count | None = None
    eta_seconds: Seconds | None = None
    error: str | None = None
    metrics: dict[str, Score] = {}  # headline metrics (JobReport.headline_metrics)
    started_at: str | None = None
    ended_at: str | None = None
    skipped: bool = False  # completed in an earlier run: kept, not trained again
    resumed: bool = False  # continued from its checkpoint
    node: str | None = None  # the Ray node (host name) that trains it; None: the worker's host


class Overall(_Record):
    """Steps done/total over the jobs this run trains, and the ETA from this run's pace."""

    steps_done: Count = 0
    total_steps: Count | None = None
    eta_seconds: Seconds | None = None


class Progress(_Record):
    """progress.json: the worker's heartbeat and per-job progress (or a launch marker)."""

    session: str | None = None
    status: ProgressStatus | None = None
    pid: Count | None = None
    host: str | None = None
    heartbeat: Seconds | None = None
    started_at: str | None = None
    running_since: str | None = None
    queued_at: Seconds | None = None  # when the worker started waiting for a slot
    ended_at: str | None = None
    current_job: str | None = None
    slot: Count | None = None
    reason: str | None = None
    launched_at: Seconds | None = None  # launch marker: when, and by which process
    launched_by: Count | None = None
    jobs: dict[str, JobProgress] = {}
    overall: Overall | None = None

    _on_disk: bool = PrivateAttr(default=False)

    @property
    def on_disk(self) -> bool:
        """True when read from a progress.json holding a JSON object (a worker or launch wrote
        one); False when there is none or it could not be read at all."""
        return self._on_disk


def read_progress(session_dir: Path) -> Progress:
    """The worker's last progress record; an empty one (``on_disk`` False) when none was written
    or it is unreadable. Fields of the wrong type read as absent. Never raises."""
    progress = Progress._tolerant(_read(session_dir / paths.PROGRESS))
    if progress is None:
        return Progress()
    progress._on_disk = True
    return progress


def write_progress(session_dir: Path, progress: Progress) -> None:
    """Stamp the heartbeat (and host and pid when unset) and write progress.json atomically."""
    progress.heartbeat = time.time()
    if progress.host is None:
        progress.host = socket.gethostname()
    if progress.pid is None:
        progress.pid = os.getpid()
    _write(session_dir / paths.PROGRESS, progress)


# ---------------------------------------------------------------- report.json


class JobTimings(_Record):
    total_seconds: float | None = None
    train_seconds: float | None = None  # training wall time minus validation
    samples_per_second: float | None = None
    eval_seconds: float | None = None
    eval_samples_per_second: float | None = None
    test_seconds: float | None = None


class JobReport(_Record):
    """jobs/<id>/report.json, written by the trainer when the job completes (every field set);
    read leniently: any field may be absent in an older or damaged report."""

    job: ModelJob | None = None
    status: JobStatus | None = None
    finished_at: str | None = None
    model_source: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None  # the training budget the job ran under
    max_length: int | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    global_step: int | None = None
    epochs_trained: float | None = None
    stopped_early: bool | None = None
    resumed_from_step: int | None = None
    metrics: dict[str, Any] | None = None  # validation metrics of the best model
    test_metrics: dict[str, Any] | None = None  # of the best model on the test split
    thresholds: dict[str, float] | None = None  # multi-label: per-label decision thresholds
    chosen_c: float | None = None  # baselines: the regularisation chosen on validation
    n_train: int | None = None
    n_validation: int | None = None
    n_test: int | None = None
    excluded_rows: int | None = None
    excluded: dict[str, int] | None = None
    train_class_counts: dict[str, int] | None = None
    baseline: dict[str, Any] | None = None  # reference (tf-idf) score on the same validation rows
    timings: JobTimings | None = None
    # What each stage computed in, as resolved on the machine that ran it (training.precision):
    # {"train": "fp32"|"bf16"|"fp16", "evaluate": ...}; None in reports written before.
    precision: dict[str, str] | None = None
    # The device the job trained on ("cpu", "cuda:0"); None in reports written before.
    device: str | None = None
    model_dir: str | None = None

    @property
    def completed(self) -> bool:
        return self.status is JobStatus.COMPLETED

    def headline_metrics(self) -> dict[str, float]:
        """Headline scalars: validation ones, then ``test_``-prefixed test ones."""
        found: dict[str, float] = {}
        for prefix, source in (("", self.metrics), ("test_", self.test_metrics)):
            if not isinstance(source, dict):
                continue
            for name in METRIC_NAMES:
                value = source.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found[prefix + name] = value
        return found


def read_report(job_dir: Path) -> JobReport | None:
    """A job's report.json, or None when absent or unreadable. Never raises."""
    return JobReport._tolerant(_read(job_dir / paths.JOB_REPORT))


def write_report(job_dir: Path, report: JobReport) -> None:
    _write(job_dir / paths.JOB_REPORT, report)


# ---------------------------------------------------------------- live.json (Ray jobs)


class JobLive(_Record):
    """jobs/<id>/live.json: where a Ray job trains and how far it got, written by the job
    itself (it runs in another process, maybe on another machine) and read by its session's
    worker, which folds it into progress.json."""

    host: str | None = None
    node_id: str | None = None
    pid: int | None = None
    step: Count = 0
    total_steps: Count | None = None
    started_at: str | None = None


def read_live(job_dir: Path) -> JobLive | None:
    """A Ray job's live.json, or None when absent or unreadable. Never raises."""
    return JobLive._tolerant(_read(job_dir / paths.JOB_LIVE))


def write_live(job_dir: Path, live: JobLive) -> None:
    _write(job_dir / paths.JOB_LIVE, live, durable=False)  # rewritten each second: a cache


# ---------------------------------------------------------------- summary.json


class JobSummary(_Record):
    status: JobStatus | None = None
    metrics: dict[str, float] | None = None
    error: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


class Summary(_Record):
    """summary.json: how the worker's run ended, written once it ends (even after a crash)."""

    session: str
    status: SessionStatus
    reason: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    jobs: dict[str, JobSummary] = {}


def read_summary(session_dir: Path) -> Summary | None:
    """summary.json, or None when absent or unreadable. Never raises."""
    return Summary._tolerant(_read(session_dir / paths.SUMMARY))


def write_summary(session_dir: Path, summary: Summary) -> None:
    _write(session_dir / paths.SUMMARY, summary)


# ---------------------------------------------------------------- the session browser's row


class ListingRow(BaseModel):
    """One row of the session browser: light to build, enough to sort and filter."""

    model_config = ConfigDict(extra="forbid")  # a cached row of another version is rebuilt

    id: str
    name: str = ""
    status: ListingStatus = UNREADABLE
    created_at: str = ""
    n_jobs: int = 0
    complete: bool = False
    parent: str | None = None
    origin: str = "native"
    approach: str = ""
    keys: list[str] = []
    jobs_done: int = 0
    best_macro_f1: float | None = None
    model: str = ""
    error: str | None = None  # why an unreadable session could not be read
    warnings: list[str] = []

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
