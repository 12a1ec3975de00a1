"""Sessions for the job-control tests, built in code through the real create path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.data.dataset import load_dataset
from arena_core.run.worker import lock_is_held
from arena_core.session.create import SessionSettings, create_session, prepare
from arena_core.session.manifest import DatasetOptions, SplitSettings, TrainingConfig, file_sha256
from arena_core.store import paths
from arena_core.store.metrics_log import read_metrics
from arena_core.store.progress import read_progress
from arena_core.store.session_store import SessionStore

ROOT = Path(__file__).resolve().parent.parent
SENTIMENTS = ["positive", "negative", "neutral"]
TOPICS = ["economy", "health", "sports"]
WORDS = {
    "positive": "great good wonderful",
    "negative": "bad awful terrible",
    "neutral": "plain usual normal",
    "economy": "market prices jobs",
    "health": "doctor hospital care",
    "sports": "football match goal",
}


def write_data(folder: Path, n_rows: int, name: str = "data", topic: bool = True) -> Path:
    """A CSV with 'text' and a JSON 'annotation': sentiment (one value), topic (1-2 values)."""
    rows = []
    for i in range(n_rows):
        sentiment = SENTIMENTS[i % 3]
        topics = sorted({TOPICS[i % 3], TOPICS[(i // 3) % 3]})
        words = " ".join(WORDS[v] for v in [sentiment, *topics])
        rows.append(
            {
                "text": f"item {i}: {words}",
                "annotation": json.dumps(
                    {"sentiment": sentiment, "topic": topics} if topic else {"sentiment": sentiment}
                ),
            }
        )
    path = Path(folder) / f"{name}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def options() -> DatasetOptions:
    return DatasetOptions(text_col="text", layout="annotation-json", annotation_col="annotation")


def training(**overrides: Any) -> TrainingConfig:
    values = {"model": "tiny", "epochs": 1, "batch_size": 16, "logging_steps": 2}
    values.update(overrides)
    return TrainingConfig(**values)


def make_session(
    store: SessionStore,
    folder: Path,
    n_rows: int = 60,
    strategies: dict[str, str] | None = None,
    name: str = "jobs",
    **train: Any,
) -> str:
    """Create a 'ready' session; default: hybrid (sentiment multi-class + 3 topic one-vs-all).

    Strategies naming only 'sentiment' give a dataset without the topic key.
    """
    strategies = strategies or {"sentiment": "multi-class", "topic": "one-vs-all"}
    path = write_data(folder, n_rows, name, topic="topic" in strategies)
    dataset = load_dataset(path, options())
    settings = SessionSettings(
        strategies=strategies,
        split=SplitSettings(val_ratio=0.25, seed=7),
        training=training(**train),
        name=name,
    )
    prepared = prepare(dataset, settings, file_sha256(path))
    return create_session(store, prepared).id


def cli(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m arena_core --home HOME ...`` as a user would run it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "arena_core", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
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
    pid = int(read_progress(session_dir)["pid"])
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
    prediction = classifier("item: great good wonderful market prices jobs")[0]
    assert prediction["label"] in labels, (prediction, labels)
