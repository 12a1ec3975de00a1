"""Sessions in a temporary store, in every state the pages must show, without any training.

One real session is created (CSV written in code -> sessions.prepare_from_file ->
create_session, model "tiny"); every other state is fabricated on disk the way the worker
would leave it: progress.json, metrics.jsonl, jobs/<id>/report.json and the manifest status.

``make_store(home, n, kinds)`` copies one prepared folder per kind n times with new ids
(parquet files hard-linked), so 10,000 sessions take seconds, not minutes.

Caution: a "running" session names this process (os.getpid()) as its worker so that it reads
as alive; never call jobs.cancel on it (that would signal the test process).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets_factory import make_rows, write_dataset

from arena_core.session.create import SessionSettings, create_session, prepare_from_file
from arena_core.session.manifest import (
    STRATEGY_FIELDS,
    DatasetOptions,
    SessionStatus,
    SplitSettings,
    TrainingConfig,
)
from arena_core.session.strategy import ModelJob
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json
from arena_core.store.metrics_log import MetricsWriter
from arena_core.store.session_store import SessionStore

KINDS = ("completed", "incomplete", "running", "failed", "unreadable")
EPOCHS = 2
STEPS_PER_EPOCH = 4
OPTIONS = DatasetOptions(text_col="text", annotation_col="annotation", lang_col="lang")
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- one real session


def new_session(store: SessionStore, name: str = "demo", rows: int = 40, **training: Any) -> str:
    """Create a real (never trained) session from a CSV written in code; returns its id."""
    data_dir = store.home / "factory-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = write_dataset(data_dir, "csv", make_rows(rows, seed=1), name=name)
    config = {"model": "tiny", "epochs": EPOCHS, "batch_size": 8, "max_length": 32, **training}
    settings = SessionSettings(
        split=SplitSettings(val_ratio=0.25, seed=7), training=TrainingConfig(**config), name=name
    )
    prepared = prepare_from_file(path, OPTIONS, settings, source_name=f"{name}.csv")
    return create_session(store, prepared).id


def _jobs(store: SessionStore, session_id: str) -> list[ModelJob]:
    return list(store.load(session_id).plan)


# ---------------------------------------------------------------- fabricated states


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
    folder = store.session_dir(session_id)
    writer = MetricsWriter(folder / paths.METRICS)
    for record in job_records(job.id, index, EPOCHS, base):
        writer.append(record)
    f1 = _score(index, EPOCHS, base)
    atomic_write_json(paths.job_dir(folder, job.id) / paths.JOB_REPORT, job_report(job, f1, EPOCHS))
    return {"status": "completed", "metrics": {"macro_f1": f1, "accuracy": f1}}


def _progress(store: SessionStore, session_id: str, status: str, jobs: dict, **extra: Any) -> None:
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
    _progress(store, session_id, "completed", jobs)
    store.set_status(session_id, SessionStatus.COMPLETED)


def make_running(store: SessionStore, session_id: str, base: float = 0.6) -> None:
    """First job done, second one half-way; the heartbeat is fresh and the pid is this process."""
    plan = _jobs(store, session_id)
    jobs: dict[str, dict[str, Any]] = {job.id: {"status": "queued", "step": 0} for job in plan}
    jobs[plan[0].id] = _write_job(store, session_id, plan[0], 0, base)
    if len(plan) > 1:
        current = plan[1]
        writer = MetricsWriter(store.session_dir(session_id) / paths.METRICS)
        for record in job_records(current.id, 1, EPOCHS, base)[: STEPS_PER_EPOCH + 1]:
            writer.append(record)
        jobs[current.id] = {"status": "running", "step": STEPS_PER_EPOCH, "eta_seconds": 30.0}
    store.set_status(session_id, SessionStatus.RUNNING)
    _progress(
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
    _progress(store, session_id, "failed", jobs, reason=reason)
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


def make_session(store: SessionStore, kind: str, name: str | None = None, **training: Any) -> str:
    """One session in state ``kind`` (see FABRICATE); returns its id."""
    session_id = new_session(store, name or kind, **training)
    FABRICATE[kind](store, session_id)
    return session_id


def make_relaunch_pair(
    store: SessionStore, learning_rate: float = 1e-4, name: str = "pair"
) -> tuple[str, str]:
    """A completed parent and its completed relaunch child with another learning rate."""
    from arena_core.session.create import create_relaunch

    parent = make_session(store, "completed", name)
    child = create_relaunch(store, parent, {"learning_rate": learning_rate}).id
    make_completed(store, child, base=0.7)
    return parent, child


def append_eval(store: SessionStore, session_id: str, job_id: str, epoch: int, f1: float) -> None:
    """Append what the trainer logs at the end of an epoch (train lines + one eval line)."""
    for record in job_records(job_id, 0, epoch, f1 - 0.05 * epoch)[-(STEPS_PER_EPOCH + 1) :]:
        MetricsWriter(store.session_dir(session_id) / paths.METRICS).append(record)


# ---------------------------------------------------------------- many sessions, fast


def clone_session(
    store: SessionStore, source_id: str, new_id: str, created_at: str | None = None
) -> str:
    """Copy a session folder under ``new_id``: parquet hard-linked, small files copied."""
    src, dst = store.session_dir(source_id), store.session_dir(new_id)
    for root, _dirs, files in os.walk(src):
        target = dst / Path(root).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            if name.endswith(".lock"):
                continue
            source_file, target_file = Path(root) / name, target / name
            if name in (paths.MANIFEST, paths.MANIFEST_BACKUP):
                data = source_file.read_bytes()
                try:
                    raw = json.loads(data)
                except ValueError:
                    target_file.write_bytes(data)  # an unreadable manifest stays unreadable
                    continue
                raw["id"] = new_id
                if created_at:
                    raw["created_at"] = created_at
                target_file.write_text(json.dumps(raw), "utf-8")
            elif name.endswith(".parquet"):
                os.link(source_file, target_file)
            else:
                shutil.copyfile(source_file, target_file)
    return new_id


def make_store(home: Path | str, n: int, kinds: Sequence[str] = KINDS) -> list[str]:
    """A store with ``n`` sessions cycling through ``kinds``; returns their ids (newest first)."""
    store = SessionStore(home)
    base = new_session(store, "bench")
    templates = {}
    for kind in dict.fromkeys(kinds):
        templates[kind] = clone_session(store, base, f"template-{kind}")
        FABRICATE[kind](store, templates[kind])
    shutil.rmtree(store.session_dir(base))
    ids = list(templates.values())[:n]
    for i in range(len(ids), n):
        kind = kinds[i % len(kinds)]
        stamp = f"2025-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}+00:00"
        ids.append(clone_session(store, templates[kind], f"{kind}-{i:05d}", created_at=stamp))
    for extra in list(templates.values())[n:]:
        shutil.rmtree(store.session_dir(extra))
    return ids


# ---------------------------------------------------------------- pages under real navigation

PAGE_FILES = ("home", "dataset", "strategy", "sessions", "monitor", "compare", "predict")
OWN_PAGES = ("sessions", "monitor", "compare")


def nav_app(tmp_path: Path, page: str, timeout: float = 30):
    """An AppTest whose entry registers all seven pages with st.navigation, ``page`` first.

    Page links and st.switch_page only work under navigation, so a page file cannot be
    tested alone for them. Our three pages are the real files (symlinked); the others are
    stubs, so this test does not depend on pages written elsewhere.
    """
    from streamlit.testing.v1 import AppTest

    folder = Path(tmp_path) / "nav"
    (folder / "app_pages").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        target = folder / "app_pages" / f"{name}.py"
        if target.exists() or target.is_symlink():
            continue
        if name in OWN_PAGES:
            target.symlink_to(REPO / "app_pages" / f"{name}.py")
        else:
            target.write_text(f"import streamlit as st\nst.write('stub page {name}')\n")
    entries = ", ".join(
        f"st.Page('app_pages/{name}.py', default={name == page})" for name in PAGE_FILES
    )
    (folder / "entry.py").write_text(
        f"import streamlit as st\nst.navigation([{entries}]).run()\n", "utf-8"
    )
    return AppTest.from_file(str(folder / "entry.py"), default_timeout=timeout)
