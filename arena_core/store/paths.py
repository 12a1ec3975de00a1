"""Where things live: ARENA_HOME and the session folder layout, named in one place."""

from __future__ import annotations

import os
import re
from pathlib import Path

from arena_core import settings
from arena_core.errors import InvalidSessionId

ENV_HOME = settings.HOME

# Top level of ARENA_HOME
SESSIONS_DIR = "sessions"
SESSION_INDEX = ".index.sqlite"  # in SESSIONS_DIR: the browser's rows (a cache; hidden: no session)
TRASH_DIR = "trash"
SLOTS_DIR = "slots"  # machine-wide worker slots (one lock file per slot)
UPLOADS_DIR = "uploads"

# Inside a session folder
MANIFEST = "manifest.json"
MANIFEST_BACKUP = "manifest.json.bak"
DATA_DIR = "data"
DATASET_SNAPSHOT = "data/dataset.parquet"  # normalised copy of the user's data
SPLIT_FILE = "data/split.parquet"  # row -> train/validation/test
METRICS = "metrics.jsonl"  # append-only training/eval log (+ .lock: jobs may write at once)
STOP_REQUEST = "stop-request"  # written by a stopping worker: its Ray jobs stop at their next step
PROGRESS = "progress.json"  # worker heartbeat + per-job status (written by the worker only)
WORKER_LOCK = "worker.lock"  # held by the running worker for its whole life
LAUNCH_LOCK = "launch.lock"  # held briefly while deciding whether to start a worker
WORKER_LOG = "worker.log"
LISTING_CACHE = "listing.json"  # session-browser row, rebuilt when manifest/progress change
SUMMARY = "summary.json"  # session summary written when the worker ends
JOBS_DIR = "jobs"  # jobs/<job_id>/{model,checkpoint,report.json}
JOB_MODEL = "model"
JOB_CHECKPOINT = "checkpoint"
JOB_REPORT = "report.json"
JOB_LIVE = "live.json"  # a Ray job's own progress (node, pid, step), read by its session's worker
LEGACY_DIR = "legacy"  # verbatim copies of an imported legacy session's files

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def arena_home(override: str | os.PathLike | None = None) -> Path:
    """ARENA_HOME: explicit override, else the environment variable, else ./arena_home."""
    return settings.home(override)


def validate_session_id(session_id: str) -> str:
    """Reject ids that could become paths outside the store ('..', '/', empty, odd characters)."""
    if (
        not isinstance(session_id, str)
        or not _SESSION_ID.fullmatch(session_id)
        or ".." in session_id
    ):
        raise InvalidSessionId(
            f"'{session_id}' is not a valid session id: use letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (as listed by 'python -m arena_core list')."
        )
    return session_id


def job_dir(session_dir: Path, job_id: str) -> Path:
    """Folder of one job's model, checkpoint and report (job ids are already path-safe)."""
    return session_dir / JOBS_DIR / validate_session_id(job_id)
