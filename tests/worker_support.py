"""Driving the installed package as a user does: the ``arena_core`` CLI in a subprocess, and
waiting on (or killing) the detached worker it starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from arena_core.run.slots import lock_is_held
from arena_core.store import paths
from arena_core.store.metrics_log import read_metrics
from arena_core.store.records import read_progress


def cli(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m arena_core --home HOME ...`` run outside the repository, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "arena_core", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(home).parent,
    )


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def kill_worker(session_dir: Path) -> int:
    """kill -9 the worker's process group (pid from progress.json); returns the pid."""
    pid = int(read_progress(session_dir).pid)
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(pid), 10, f"worker {pid} to die")
    # The leader turns zombie before its other threads (heartbeat) finish exiting; the kernel
    # drops the worker's flock only when the last of them has closed the files.
    lock = session_dir / paths.WORKER_LOCK
    wait_for(lambda: not lock_is_held(lock), 10, f"worker {pid}'s lock to be released")
    return pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def steps_per_job(session_dir: Path) -> dict[tuple[str, str], list[int]]:
    """Logged steps per (job, kind), in file order."""
    records, _ = read_metrics(session_dir / paths.METRICS)
    steps: dict[tuple[str, str], list[int]] = defaultdict(list)
    for record in records:
        steps[(record["job"], record["kind"])].append(record["step"])
    return dict(steps)


def assert_model_predicts(model_dir: Path, labels: list[str]) -> None:
    """The saved model loads with a plain transformers pipeline and predicts one of its labels."""
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(model_dir), device="cpu")
    prediction = classifier("the report says that positive economy health")[0]
    assert prediction["label"] in labels, (prediction, labels)
