"""One entry point for training a job, whatever its model kind: a transformer fine-tune
(``training.trainer``) or a fast baseline (``training.baseline_job``).

The worker (and benchmarks) call ``shared_inputs`` once per session and ``run_job`` per job.
torch/transformers are imported only when a transformer is trained, so pages can import this
module (for ``check_model``) cheaply.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from arena_core.session.manifest import TrainingConfig
from arena_core.session.strategy import ModelJob
from arena_core.store.metrics_log import MetricsWriter
from arena_core.store.records import JobReport
from arena_core.training.baselines import is_baseline, parse_name
from arena_core.training.cancel import JobCancelled
from arena_core.training.models import ModelSource, resolve_model


def check_model(name: str) -> ModelSource | None:
    """Refuse (ModelLoadError/TrainingError) a model that cannot be used offline, before
    anything is written; returns the transformer's source, None for a ``tfidf`` baseline."""
    if is_baseline(name):
        _, inner = parse_name(name)  # raises TrainingError for "embed:" and the like
        return resolve_model(inner) if inner else None
    return resolve_model(name)


_TRAINER = "arena_core.training.trainer"


def import_training_code(config: TrainingConfig) -> float:
    """Import what training ``config.model`` needs (torch, transformers and our trainer for a
    fine-tune; nothing for a baseline) and return the seconds it took.

    The worker's largest fixed cost (BENCHMARKS.md, "Relaunch"). It creates about 700,000
    objects that live as long as the process, so the cyclic collector is paused meanwhile (its
    full passes would walk them again and again: 5.0 -> 4.0 s of CPU on the 2-core VM) and they
    are then frozen out of its later passes. A no-op once imported (in-process callers such as
    tests may call it often).
    """
    if is_baseline(config.model) or _TRAINER in sys.modules:
        return 0.0
    started = time.perf_counter()
    paused = gc.isenabled()
    gc.disable()
    try:
        import arena_core.training.trainer  # noqa: F401 - torch, transformers, the Trainer
    finally:
        if paused:
            gc.freeze()
            gc.enable()
    return time.perf_counter() - started


def shared_inputs(config: TrainingConfig, table: pd.DataFrame) -> dict[str, Any]:
    """What every job of a session shares: the tokenizer and the texts encoded once (nothing
    for baselines, which build their own features)."""
    if is_baseline(config.model):
        return {"tokenizer": None, "encoded": None}
    from arena_core.training.trainer import prepare_encodings

    tokenizer, encoded = prepare_encodings(config, table["text"].tolist())
    return {"tokenizer": tokenizer, "encoded": encoded}


def run_job(
    job: ModelJob,
    config: TrainingConfig,
    table: pd.DataFrame,
    split: pd.Series | pd.DataFrame,
    out_dir: Path,
    metrics: MetricsWriter,
    *,
    shared: dict[str, Any] | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> JobReport:
    """Train ``job`` into ``out_dir`` with the session's model kind; returns its report."""
    shared = shared or {}
    if is_baseline(config.model):
        from arena_core.training.baseline_job import train_baseline_job

        if should_stop and should_stop():
            raise JobCancelled(f"{job.id}: cancelled before it started.")
        report = train_baseline_job(job, config, table, split, out_dir, metrics)
        if on_progress:
            on_progress(1, 1)
        return report
    from arena_core.training.trainer import train_job

    return train_job(
        job,
        config,
        table,
        split,
        out_dir,
        metrics,
        encoded=shared.get("encoded"),
        tokenizer=shared.get("tokenizer"),
        resume=resume,
        on_progress=on_progress,
        should_stop=should_stop,
    )
