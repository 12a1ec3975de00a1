"""Train one ModelJob with a fast baseline (``tfidf`` or ``embed:<model>``), like ``train_job``.

The job folder and report have the trainer's shape (``model/``, ``report.json``, metric lines),
so Monitor, Sessions, Compare, Predict and relaunch treat a baseline like any model.
``reference_score`` trains the ``tfidf`` baseline on a transformer job's split in seconds, so
every report says what the fine-tune gained over it.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_core.errors import TrainingError
from arena_core.session.manifest import TrainingConfig, now_iso
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.store.metrics_log import EVAL, TEST, TRAIN, MetricsWriter, truncate_job_after
from arena_core.store.records import JobReport, JobStatus, JobTimings, write_report
from arena_core.training.baseline_store import save_baseline
from arena_core.training.baselines import BaselineModel, fit_baseline
from arena_core.training.evaluation import classification_metrics, multilabel_metrics
from arena_core.training.examples import JobExamples, job_examples, row_counts
from arena_core.training.heap import HeapTrimmer

log = logging.getLogger(__name__)

REFERENCE_BASELINE = "tfidf"  # the baseline every transformer job is compared with
# Bounds of the reference fit, which runs in the worker next to the fine-tuned model and its
# optimizer. Unbounded, 80,000 training rows of a 46-class set (bench/memory_100k.py) took the
# worker past 6.8 GB, still fitting after 13 minutes: mostly L-BFGS keeping about 25 float64
# copies of the classes x features weights (2,000 rows of 100 classes: +1.3 GB already).
# With both bounds that worker peaks at 1855 MiB. Sets of up to 10 classes and about 3,000
# training rows (the quality benchmark's: at most 1.13 M weights) reach neither bound, so
# their reference scores are unchanged. Figures: BENCHMARKS.md, "Memory at 100,000 rows".
REFERENCE_MAX_ROWS = 10_000
# 1.5 M weights peaked at 1930 MiB on the 100,000 rows; with 10 classes 1.2 M keeps 120,000
# features. float32 features were not used: they would change the scores and save little (the
# sparse matrices are about 50 MB; SciPy's L-BFGS keeps its history in float64 regardless).
REFERENCE_MAX_WEIGHTS = 1_200_000  # classes x features: about 300 MB for L-BFGS


def _task(job: ModelJob) -> str:
    return "multi" if job.strategy is Strategy.MULTI_LABEL else "single"


def _texts(table: pd.DataFrame, examples: JobExamples, split: str) -> list[str]:
    return table["text"].iloc[examples.indices[split]].astype(str).tolist()


def _fit(
    model_name: str,
    job: ModelJob,
    table,
    examples: JobExamples,
    seed: int,
    sample: np.ndarray | None = None,
    max_features: int | None = None,
):
    """Fit on the job's training rows (only those at ``sample``, positions in the training
    split, when given; tfidf features bounded by ``max_features``); C is chosen on every
    validation row."""
    has_val = examples.count("validation") > 0
    train = examples.indices["train"]
    targets = examples.targets["train"]
    if sample is not None:
        train, targets = train[sample], targets[sample]
    return fit_baseline(
        model_name,
        _task(job),
        list(job.labels),
        table["text"].iloc[train].astype(str).tolist(),
        targets,
        _texts(table, examples, "validation") if has_val else None,
        examples.targets["validation"] if has_val else None,
        seed=seed,
        max_features=max_features,
    )


def _scores(model: BaselineModel, job: ModelJob, texts: list[str], targets) -> dict[str, Any]:
    """Metrics as the trainer reports them (validation thresholds applied for multi-label),
    plus the log loss so the loss charts have a point."""
    probs = model.predict_proba(texts)
    if job.strategy is Strategy.MULTI_LABEL:
        details = multilabel_metrics(targets, probs, list(job.labels), model.thresholds)
        clipped = np.clip(probs, 1e-7, 1 - 1e-7)
        loss = -np.mean(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    else:
        details = classification_metrics(targets, probs.argmax(axis=1), list(job.labels))
        picked = probs[np.arange(len(targets)), np.asarray(targets, dtype=int)]
        loss = -np.mean(np.log(np.clip(picked, 1e-7, 1.0)))
    details["loss"] = float(loss)
    return details


def _reference_sample(n_train: int, seed: int) -> np.ndarray | None:
    """Positions of the training rows the reference is fitted on: all (None) up to
    REFERENCE_MAX_ROWS, else a seeded sample of that many, in their order."""
    if n_train <= REFERENCE_MAX_ROWS:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_train, size=REFERENCE_MAX_ROWS, replace=False))


def _coefficient_rows(job: ModelJob) -> int:
    """Rows of coefficients per feature: one per class for a softmax over 3+ classes (which
    L-BFGS fits at once) and for multi-label (one regression per label, their rows kept side
    by side), one for a binary fit."""
    if job.strategy is not Strategy.MULTI_LABEL and len(job.labels) <= 2:
        return 1
    return len(job.labels)


def reference_score(
    job: ModelJob, table: pd.DataFrame, examples: JobExamples, seed: int
) -> dict[str, Any] | None:
    """Validation macro-F1 and time of the ``tfidf`` baseline on the job's own rows (the
    trainer's ``examples``), or None when there is no validation split or it cannot train.

    Bounded in memory, because it runs in the worker beside the fine-tuned model: fitted on at
    most REFERENCE_MAX_ROWS training rows (seeded sample) with at most REFERENCE_MAX_WEIGHTS
    coefficients; every validation row is scored. ``fitted_rows`` and ``features`` say what
    it was fitted on.
    """
    if not examples.count("validation"):
        return None
    sample = _reference_sample(examples.count("train"), seed)
    # The validation pass just before leaves its freed, fragmented activation blocks in the
    # heap (+370 MiB over 20,000 rows); the fit's large arrays cannot reuse them. Handing them
    # back first keeps the fit from stacking on top of them (100,000 rows: see BENCHMARKS.md).
    HeapTrimmer().trim()
    try:
        max_features = REFERENCE_MAX_WEIGHTS // _coefficient_rows(job)
        fitted = _fit(REFERENCE_BASELINE, job, table, examples, seed, sample, max_features)
    except TrainingError as exc:  # e.g. one class only in train: the fine-tune may still work
        log.info("%s: no reference baseline: %s", job.id, exc)
        return None
    val = _texts(table, examples, "validation")
    details = _scores(fitted.model, job, val, examples.targets["validation"])
    return {
        "model": REFERENCE_BASELINE,
        "macro_f1": details["macro_f1"],
        "seconds": round(fitted.seconds, 3),
        "fitted_rows": examples.count("train") if sample is None else len(sample),
        "features": fitted.model.features.n_features,
    }


def _metric_line(kind: str, job: ModelJob, details: dict[str, Any]) -> dict[str, Any]:
    prefix = {EVAL: "val_", TEST: "test_"}[kind]
    line = {
        "kind": kind,
        "job": job.id,
        "step": 1,
        "epoch": 1.0,
        f"{prefix}loss": details["loss"],
        f"{prefix}macro_f1": details["macro_f1"],
        f"{prefix}accuracy": details["accuracy"],
        "per_label": details.get("per_label"),
    }
    if kind == EVAL:
        line["is_best"] = True
    return line


def _score_splits(model, job: ModelJob, table, examples: JobExamples, metrics: MetricsWriter):
    """Score every split the job has and log it like the trainer does (one point each)."""
    scores = {}
    for split_name in ("train", "validation", "test"):
        if examples.count(split_name):
            texts = _texts(table, examples, split_name)
            scores[split_name] = _scores(model, job, texts, examples.targets[split_name])
    metrics.append({"kind": TRAIN, "job": job.id, "step": 1, "epoch": 1.0,
                    "train_loss": scores["train"]["loss"]})  # fmt: skip
    for split_name, kind in (("validation", EVAL), ("test", TEST)):
        if split_name in scores:
            metrics.append(_metric_line(kind, job, scores[split_name]))
    return scores


def train_baseline_job(
    job: ModelJob,
    config: TrainingConfig,
    table: pd.DataFrame,
    split: pd.Series | pd.DataFrame,
    out_dir: Path,
    metrics: MetricsWriter,
) -> JobReport:
    """Fit, score and save a baseline for ``job``; returns its report (also report.json).

    A baseline trains in one go: there is no checkpoint, so a resume simply trains it again.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    model_dir = out_dir / paths.JOB_MODEL
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(model_dir, ignore_errors=True)
    (out_dir / paths.JOB_REPORT).unlink(missing_ok=True)
    truncate_job_after(metrics.path, job.id, -1)

    examples = job_examples(table, split, job)
    fitted = _fit(config.model, job, table, examples, config.seed)
    model = fitted.model
    scores = _score_splits(model, job, table, examples, metrics)
    save_baseline(model, model_dir)

    report = JobReport(
        job=job,
        status=JobStatus.COMPLETED,
        finished_at=now_iso(),
        model_source={"kind": "baseline", "display": config.model, "path": None},
        config=config.model_dump(mode="json"),
        budget=None,
        best_epoch=1,
        best_step=1,
        global_step=1,
        epochs_trained=1.0,
        stopped_early=False,
        resumed_from_step=None,
        metrics=scores.get("validation"),
        test_metrics=scores.get("test"),
        thresholds=model.thresholds,
        chosen_c=fitted.chosen_c,
        **row_counts(job, examples),
        timings=JobTimings(
            total_seconds=round(time.perf_counter() - started, 3),
            train_seconds=round(fitted.seconds, 3),
        ),
        model_dir=paths.JOB_MODEL,
    )
    write_report(out_dir, report)
    return report
