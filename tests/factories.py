"""Test data built in code: datasets, sessions, and the records a worker leaves behind.

One way to build each:

- a dataset: ``make_rows`` (text, lang and a JSON annotation per row) -> ``make_frame`` (a
  DataFrame) -> ``write_dataset`` (a file in any supported format) or ``normalised`` (the
  in-memory NormalisedDataset); ``trainer_table`` + ``make_split`` give what the trainer takes;
- a session: ``new_session`` (prepare + create_session, model "tiny", never trained), then
  ``make_session(store, kind)`` leaves it in a state a page must show (``KINDS``);
- records: ``job_records`` + ``write_records`` (metrics.jsonl), ``job_report``
  (jobs/<id>/report.json) and ``write_progress`` (progress.json), as the worker writes them,
  without training anything.

Caution: a "running" session names this process (os.getpid()) as its worker so that it reads
as alive; never call control.cancel on it (that would signal the test process).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_core.data.dataset import NormalisedDataset, load_dataset, normalise
from arena_core.data.demo import demo_options, demo_path
from arena_core.session.create import (
    PreparedSession,
    SessionSettings,
    create_session,
    prepare,
)
from arena_core.session.manifest import (
    STRATEGY_FIELDS,
    DatasetOptions,
    SessionStatus,
    SplitSettings,
    TrainingConfig,
)
from arena_core.session.relaunch import create_relaunch
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json
from arena_core.store.metrics_log import MetricsWriter
from arena_core.store.session_store import SessionStore

# ---------------------------------------------------------------- datasets

SENTIMENTS = ["positive", "negative", "neutral"]
THEMES = ["economy", "health", "environment", "sports"]
KEYS: dict[str, list[str]] = {"sentiment": SENTIMENTS, "themes": THEMES}
# Sentiment (multi-class) + 3 themes (one-vs-all): the hybrid plan of 4 models.
THREE_THEMES: dict[str, list[str]] = {"sentiment": SENTIMENTS, "themes": THEMES[:3]}
MULTI = ("themes",)  # keys with 0..n values per row; the others have exactly one
LANGUAGES = ("EN", "FR")
FORMATS = ("csv", "tsv", "jsonl", "ndjson", "json", "parquet", "xlsx")
WORDS = {"EN": "the report says that", "FR": "le rapport dit que", "DE": "der Bericht sagt dass"}


def make_rows(
    n: int = 40,
    keys: Mapping[str, Sequence[str]] | None = None,
    languages: Sequence[str] = LANGUAGES,
    seed: int = 0,
    multi: Collection[str] = MULTI,
) -> list[dict[str, Any]]:
    """Rows with ``text``, ``lang`` and ``annotation`` (a JSON object: key -> value(s)).

    Deterministic and balanced: row i is in language ``languages[i % len(languages)]`` and is
    number ``c = i // len(languages) + seed`` of that language. A single-valued key takes value
    ``c % len(values)``, so every value appears in every language; a key in ``multi`` takes its
    j-th value when bit j of c is set (0 to all values per row). The text holds the label
    words, so a model can learn them. ``seed`` shifts the pattern.
    """
    keys = dict(KEYS if keys is None else keys)
    languages = tuple(languages) or ("EN",)
    rows = []
    for i in range(n):
        lang = languages[i % len(languages)]
        c = i // len(languages) + seed
        annotation: dict[str, Any] = {}
        for key, values in keys.items():
            if key in multi:
                annotation[key] = [v for j, v in enumerate(values) if (c >> j) & 1]
            else:
                annotation[key] = values[c % len(values)]
        words = [
            v for vals in annotation.values() for v in ([vals] if isinstance(vals, str) else vals)
        ]
        text = f"{WORDS.get(lang, 'text')} {' '.join(words)} number {i}"
        rows.append({"text": text, "lang": lang, "annotation": json.dumps(annotation)})
    return rows


def make_frame(
    n: int = 40, keys: Mapping[str, Sequence[str]] | None = None, **kwargs: Any
) -> pd.DataFrame:
    """``make_rows`` as a DataFrame (columns text, lang, annotation)."""
    return pd.DataFrame(make_rows(n, keys, **kwargs))


def write_dataset(folder: Path, fmt: str, rows: list[dict[str, Any]], name: str = "data") -> Path:
    """Write ``rows`` as ``<name>.<fmt>`` in ``folder`` and return the path."""
    path = Path(folder) / f"{name}.{fmt}"
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt in ("jsonl", "ndjson"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        raise ValueError(f"unknown format {fmt}")
    return path


def write_bytes(folder: Path, filename: str, data: bytes) -> Path:
    path = Path(folder) / filename
    path.write_bytes(data)
    return path


def write_text(folder: Path, filename: str, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(folder, filename, text.encode(encoding))


def options(**overrides: Any) -> DatasetOptions:
    """How ``make_rows`` data is read: annotation-json layout, text, annotation and lang columns."""
    values: dict[str, Any] = {
        "text_col": "text",
        "annotation_col": "annotation",
        "lang_col": "lang",
    }
    return DatasetOptions(**{**values, **overrides})


def normalised(
    frame: pd.DataFrame | None = None, source_name: str = "data.csv", **option_overrides: Any
) -> NormalisedDataset:
    """``frame`` (default: ``make_frame()``) normalised in memory with ``options``."""
    frame = make_frame() if frame is None else frame
    return normalise(frame, options(**option_overrides), source_name=source_name)


def demo_dataset() -> NormalisedDataset:
    """The packaged demo (240 rows, EN/FR, sentiment + 4 themes), as 'Try the demo' loads it."""
    return load_dataset(demo_path(), demo_options())


def trainer_table(
    n: int = 120, keys: Mapping[str, Sequence[str]] | None = None, seed: int = 0
) -> pd.DataFrame:
    """The normalised table the trainer takes: row, text, language, id, labels::<key>."""
    return normalised(make_frame(n, keys, seed=seed)).table


def make_split(table: pd.DataFrame, seed: int = 0) -> pd.Series:
    """60/20/20 train/validation/test, deterministic, indexed like the table."""
    order = np.random.default_rng(seed).permutation(len(table))
    n_val = n_test = len(table) // 5
    assignment = np.array(["train"] * len(table), dtype=object)
    assignment[order[:n_val]] = "validation"
    assignment[order[n_val : n_val + n_test]] = "test"
    return pd.Series(assignment, index=table.index)


# ---------------------------------------------------------------- sessions

KINDS = ("completed", "incomplete", "running", "failed", "unreadable")
EPOCHS = 2  # of a fabricated session: its records and its manifest agree
STEPS_PER_EPOCH = 4


def tiny_config(**overrides: Any) -> TrainingConfig:
    """A configuration that trains the tiny model in about a second per job."""
    values = {
        "model": "tiny",
        "epochs": 1,
        "batch_size": 16,
        "max_length": 32,
        "logging_steps": 2,
        "seed": 7,
        **overrides,
    }
    return TrainingConfig(**values)


def settings(
    strategies: Mapping[str, str] | None = None,
    per_language: bool = False,
    min_examples: int = 2,
    name: str | None = None,
    **training: Any,
) -> SessionSettings:
    """Session settings: given strategies (others auto), 25% validation, ``tiny_config``."""
    return SessionSettings(
        strategies=dict(strategies or {}),
        per_language=per_language,
        min_examples=min_examples,
        split=SplitSettings(val_ratio=0.25, seed=7),
        training=tiny_config(**training),
        name=name,
    )


def prepared_session(
    name: str = "demo",
    *,
    rows: int = 40,
    keys: Mapping[str, Sequence[str]] | None = None,
    seed: int = 1,
    dataset: NormalisedDataset | None = None,
    strategies: Mapping[str, str] | None = None,
    per_language: bool = False,
    min_examples: int = 2,
    **training: Any,
) -> PreparedSession:
    """``prepare`` on ``dataset`` (default: ``rows`` rows of ``make_rows``); writes nothing.

    Without ``keys``, the data holds every key of ``KEYS``, or only the keys named in
    ``strategies`` when given (a key left out of them would get an automatic strategy).
    """
    if dataset is None:
        if keys is None and strategies:
            keys = {k: v for k, v in KEYS.items() if k in strategies}
        dataset = normalised(make_frame(rows, keys, seed=seed), source_name=f"{name}.csv")
    source = dataset.table.to_csv(index=False).encode("utf-8")
    return prepare(
        dataset,
        settings(strategies, per_language, min_examples, name=name, **training),
        hashlib.sha256(source).hexdigest(),
    )


def new_session(store: SessionStore, name: str = "demo", **kwargs: Any) -> str:
    """Create a real (never trained) 'ready' session; returns its id. See ``prepared_session``."""
    return create_session(store, prepared_session(name, **kwargs)).id


def make_session(
    store: SessionStore, kind: str = "ready", name: str | None = None, **kwargs: Any
) -> str:
    """One session in state ``kind`` ("ready" or one of ``KINDS``); returns its id.

    ``kwargs`` go to ``new_session``; the training defaults to ``EPOCHS`` epochs, like the
    records fabricated for it.
    """
    session_id = new_session(store, name or kind, **{"epochs": EPOCHS, **kwargs})
    FABRICATE[kind](store, session_id)
    return session_id


def make_relaunch_pair(
    store: SessionStore, learning_rate: float = 2e-4, name: str = "pair"
) -> tuple[str, str]:
    """A completed parent and its completed relaunch child with another learning rate."""
    parent = make_session(store, "completed", name)
    child = create_relaunch(store, parent, {"learning_rate": learning_rate}).id
    make_completed(store, child, base=0.7)
    return parent, child


def populated_store(store: SessionStore) -> dict[str, str]:
    """One session per status a page lists differently: completed, running, failed (by kind)."""
    return {
        kind: make_session(store, kind, f"s-{kind}") for kind in ("completed", "running", "failed")
    }


# ---------------------------------------------------------------- records


def _jobs(store: SessionStore, session_id: str) -> list[ModelJob]:
    return list(store.load(session_id).plan)


def _score(job_index: int, epoch: int, base: float) -> float:
    return round(min(0.99, base + 0.05 * epoch - 0.02 * job_index), 4)


def job_records(job_id: str, job_index: int, epochs: int, base: float) -> list[dict[str, Any]]:
    """Metric lines of one job as the trainer writes them: train steps, one eval per epoch."""
    records: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        for k in range(1, STEPS_PER_EPOCH + 1):
            step = (epoch - 1) * STEPS_PER_EPOCH + k
            records.append(
                {
                    "kind": "train",
                    "job": job_id,
                    "step": step,
                    "epoch": round(epoch - 1 + k / STEPS_PER_EPOCH, 4),
                    "train_loss": round(1.2 / step, 4),
                    "learning_rate": 5e-5,
                }
            )
        f1 = _score(job_index, epoch, base)
        records.append(
            {
                "kind": "eval",
                "job": job_id,
                "step": epoch * STEPS_PER_EPOCH,
                "epoch": float(epoch),
                "val_loss": round(1.0 / epoch, 4),
                "val_macro_f1": f1,
                "val_accuracy": f1,
                "is_best": True,
            }
        )
    return records


def write_records(store: SessionStore, session_id: str, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the session's metrics.jsonl, as the trainer does."""
    writer = MetricsWriter(store.session_dir(session_id) / paths.METRICS)
    for record in records:
        writer.append(record)


def job_report(job: ModelJob, f1: float, epoch: int) -> dict[str, Any]:
    """A report.json like the trainer's (best validation metrics of the job)."""
    per_label = {
        label: {"precision": f1, "recall": f1, "f1": f1, "support": 5} for label in job.labels
    }
    n = len(job.labels)
    return {
        "job": job.model_dump(mode="json"),
        "status": "completed",
        "best_epoch": epoch,
        "metrics": {
            "n": 5 * n,
            "accuracy": f1,
            "macro_f1": f1,
            "loss": round(1.0 / epoch, 4),
            "per_label": per_label,
            "confusion_matrix": [[5 if i == j else 0 for j in range(n)] for i in range(n)],
            "labels": list(job.labels),
        },
        "test_metrics": None,
        "thresholds": None,
    }


def _write_job(store: SessionStore, session_id: str, job: ModelJob, index: int, base: float):
    """A trained job's records and report.json; returns its progress.json entry."""
    write_records(store, session_id, job_records(job.id, index, EPOCHS, base))
    f1 = _score(index, EPOCHS, base)
    folder = store.session_dir(session_id)
    atomic_write_json(paths.job_dir(folder, job.id) / paths.JOB_REPORT, job_report(job, f1, EPOCHS))
    return {"status": "completed", "metrics": {"macro_f1": f1, "accuracy": f1}}


def write_progress(
    store: SessionStore, session_id: str, status: str, jobs: dict, **extra: Any
) -> None:
    """progress.json as the worker writes it; ``extra`` overrides (pid defaults to a dead one)."""
    total = STEPS_PER_EPOCH * EPOCHS
    for entry in jobs.values():
        entry.setdefault("total_steps", total)
        entry.setdefault("step", total if entry["status"] == "completed" else 0)
    done = sum(entry["step"] for entry in jobs.values())
    progress = {
        "session": session_id,
        "pid": extra.pop("pid", 999_999_999),
        "host": socket.gethostname(),
        "status": status,
        "heartbeat": time.time(),
        "started_at": "2025-01-01T00:00:00+00:00",
        "current_job": None,
        "jobs": jobs,
        "overall": {"steps_done": done, "total_steps": total * len(jobs), "eta_seconds": None},
        **extra,
    }
    atomic_write_json(store.session_dir(session_id) / paths.PROGRESS, progress)


def make_completed(store: SessionStore, session_id: str, base: float = 0.6) -> None:
    """Every job trained: metrics log, report.json per job, progress and status 'completed'."""
    jobs = {
        job.id: _write_job(store, session_id, job, i, base)
        for i, job in enumerate(_jobs(store, session_id))
    }
    write_progress(store, session_id, "completed", jobs, ended_at="2025-01-01T00:03:20+00:00")
    store.set_status(session_id, SessionStatus.COMPLETED)


def make_running(store: SessionStore, session_id: str, base: float = 0.6) -> None:
    """First job done, second one half-way; the heartbeat is fresh and the pid is this process."""
    plan = _jobs(store, session_id)
    jobs: dict[str, dict[str, Any]] = {job.id: {"status": "queued", "step": 0} for job in plan}
    jobs[plan[0].id] = _write_job(store, session_id, plan[0], 0, base)
    if len(plan) > 1:
        current = plan[1]
        write_records(
            store, session_id, job_records(current.id, 1, EPOCHS, base)[: STEPS_PER_EPOCH + 1]
        )
        jobs[current.id] = {"status": "running", "step": STEPS_PER_EPOCH, "eta_seconds": 30.0}
    store.set_status(session_id, SessionStatus.RUNNING)
    write_progress(
        store,
        session_id,
        "running",
        jobs,
        pid=os.getpid(),
        current_job=plan[1].id if len(plan) > 1 else None,
    )


def refresh_heartbeat(store: SessionStore, session_id: str) -> None:
    """Keep a fabricated running session alive (a heartbeat goes stale after 15 s)."""
    path = store.session_dir(session_id) / paths.PROGRESS
    progress = json.loads(path.read_text("utf-8"))
    progress["heartbeat"] = time.time()
    atomic_write_json(path, progress)


def make_failed(store: SessionStore, session_id: str, base: float = 0.6) -> None:
    """First job done, the second failed with an error; status 'failed'."""
    plan = _jobs(store, session_id)
    jobs = {job.id: {"status": "queued", "step": 0} for job in plan}
    jobs[plan[0].id] = _write_job(store, session_id, plan[0], 0, base)
    reason = "1 job failed"
    if len(plan) > 1:
        error = "TrainingError: out of memory while training (fabricated)"
        jobs[plan[1].id] = {"status": "failed", "step": 2, "error": error}
        reason = f"1 of {len(plan)} jobs failed: {plan[1].id}: {error}"
    write_progress(store, session_id, "failed", jobs, reason=reason)
    store.set_status(session_id, SessionStatus.FAILED, reason)


def make_incomplete(store: SessionStore, session_id: str) -> None:
    """Remove the four strategy fields from manifest.json on disk, and the backup."""
    folder = store.session_dir(session_id)
    raw = json.loads((folder / paths.MANIFEST).read_text("utf-8"))
    for name in STRATEGY_FIELDS:
        raw.pop(name, None)
    (folder / paths.MANIFEST).write_text(json.dumps(raw, indent=2), "utf-8")
    (folder / paths.MANIFEST_BACKUP).unlink(missing_ok=True)


def make_unreadable(store: SessionStore, session_id: str) -> None:
    """A garbage manifest and no backup: the session cannot be read at all."""
    folder = store.session_dir(session_id)
    (folder / paths.MANIFEST).write_bytes(b"{ this is not json \x00\xff")
    (folder / paths.MANIFEST_BACKUP).unlink(missing_ok=True)


FABRICATE = {
    "ready": lambda store, sid: None,
    "completed": make_completed,
    "running": make_running,
    "failed": make_failed,
    "incomplete": make_incomplete,
    "unreadable": make_unreadable,
}


def append_eval(store: SessionStore, session_id: str, job_id: str, epoch: int, f1: float) -> None:
    """Append what the trainer logs at the end of an epoch (train lines + one eval line)."""
    records = job_records(job_id, 0, epoch, f1 - 0.05 * epoch)[-(STEPS_PER_EPOCH + 1) :]
    write_records(store, session_id, records)
