"""Train one ModelJob with transformers' Trainer, streaming metrics to the session's log.

Stages of ``train_job``: data (rows + targets, tokens reused) -> model -> start or resume
(checkpoint + metrics log kept consistent) -> Trainer loop (callbacks: metrics, progress,
cancel, best model, early stopping, step checkpoints) -> test of the best model -> report.

Job folder: ``model/`` best weights so far (safetensors, tokenizer, thresholds for multi-label),
``checkpoint/checkpoint-<step>/`` the latest resumable state only (removed once the job
completes), ``report.json`` written last. This module is worker-side: it imports torch.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformers import PrinterCallback, ProgressCallback, set_seed
from transformers.utils import logging as hf_logging

from arena_core.errors import TrainingError
from arena_core.session.manifest import TrainingConfig, now_iso
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.store.metrics_log import TEST, MetricsWriter, truncate_job_after
from arena_core.store.records import JobReport, JobStatus, write_report
from arena_core.training.baseline_job import reference_score
from arena_core.training.batches import PadCollator
from arena_core.training.budget import job_budget
from arena_core.training.cancel import JobCancelled
from arena_core.training.checkpoints import (
    checkpoint_step,
    disk_errors,
    latest_checkpoint,
    read_best,
    restore_model_dir,
    save_best_model,
)
from arena_core.training.evaluation import DEFAULT_THRESHOLD
from arena_core.training.examples import job_examples, row_counts
from arena_core.training.hf_loop import (
    ArenaCallback,
    ArenaTrainer,
    EncodedSplit,
    ProgressFn,
    StopFn,
    training_args,
)
from arena_core.training.models import (
    effective_max_length,
    force_offline,
    load_classifier,
    load_tokenizer,
    resolve_model,
)
from arena_core.training.precision import resolve_all
from arena_core.training.scoring import Scorer, class_weight_loss, metric_extras
from arena_core.training.tokens import Encoded, encode_texts, encode_texts_cached

log = logging.getLogger(__name__)

__all__ = ["JobCancelled", "latest_checkpoint", "prepare_encodings", "train_job"]


# ---------------------------------------------------------------- data


def prepare_encodings(
    config: TrainingConfig,
    texts: list[str],
    cache: Path | None = None,
    model_roots: list[Path] | None = None,
) -> tuple[Any, Encoded]:
    """The tokenizer and token ids a session's jobs share (pass both to every ``train_job``).

    ``cache`` (e.g. a .npz in the session folder) is reused when it matches texts, tokenizer
    and max_length, and rewritten otherwise.
    """
    source = resolve_model(config.model, allowed_roots=model_roots)
    tokenizer = load_tokenizer(source)
    max_length = effective_max_length(config.max_length, source, tokenizer)
    return tokenizer, encode_texts_cached(tokenizer, texts, max_length, cache)


def _encoded_for(table: pd.DataFrame, encoded: Encoded | None, tokenizer, max_length: int):
    if encoded is not None and len(encoded) == len(table) and encoded.max_length == max_length:
        return encoded
    if encoded is not None:
        log.warning("given encodings do not match this table/max_length; re-tokenizing")
    return encode_texts(tokenizer, table["text"].tolist(), max_length)


# ---------------------------------------------------------------- loss and scores


# ---------------------------------------------------------------- files of the job folder


# ---------------------------------------------------------------- Trainer pieces


# ---------------------------------------------------------------- the job


def train_job(
    job: ModelJob,
    config: TrainingConfig,
    table: pd.DataFrame,
    split: pd.Series | pd.DataFrame,
    out_dir: Path,
    metrics: MetricsWriter,
    *,
    encoded: Encoded | None = None,
    tokenizer=None,
    resume: bool = False,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    model_roots: list[Path] | None = None,
) -> JobReport:
    """Train ``job`` into ``out_dir`` and return its report (also written to report.json).

    ``resume`` continues from the latest checkpoint in out_dir/checkpoint (the job's metric
    lines after that step are dropped first); without one the job starts over. Raises
    JobCancelled when ``should_stop`` asked to stop, TrainingError/ModelLoadError/StrategyError
    for problems the user can fix.
    """
    started = time.perf_counter()
    force_offline()
    hf_logging.disable_progress_bar()  # "Writing model shards" bars would flood worker.log
    out_dir = Path(out_dir)
    model_dir = out_dir / paths.JOB_MODEL

    # data
    examples = job_examples(table, split, job)
    source = resolve_model(config.model, allowed_roots=model_roots)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(source)
    budget = job_budget(config, examples.count("train"))

    # start or resume: the metrics log must not keep steps the model is about to redo
    checkpoint, best, resumed_from = _start_or_resume(job, out_dir, metrics, resume)

    # model and Trainer
    run = _set_up(job, config, source, tokenizer, table, encoded, examples, budget, out_dir)
    trainer = run.trainer
    log.info("%s: model ready, %d steps to train", job.id, budget.total_steps)
    callback = ArenaCallback(
        job, metrics, run.scorer, run.save_best, best, config, on_progress, should_stop
    )
    trainer.add_callback(callback)

    train_seconds = _train(job, trainer, callback, checkpoint, out_dir)
    best = _settle_best(job, trainer, callback, run.save_best, model_dir, run.n_validation)

    test_metrics, test_seconds = _test_best(job, run, model_dir, best, metrics)

    # report
    report = JobReport(
        job=job,
        status=JobStatus.COMPLETED,
        finished_at=now_iso(),
        model_source=source.as_dict(),
        config=config.model_dump(mode="json"),
        budget=budget.as_dict(),
        max_length=run.max_length,
        **_outcome(trainer, callback, best, resumed_from),
        metrics=best["metrics"],
        test_metrics=test_metrics,
        **row_counts(job, examples),
        baseline=reference_score(job, table, examples, config.seed),
        timings=_timings(trainer, started, train_seconds, test_seconds),
        precision=run.precision,
        device=str(trainer.args.device),
        model_dir=paths.JOB_MODEL,
    )
    write_report(out_dir, report)
    shutil.rmtree(out_dir / paths.JOB_CHECKPOINT, ignore_errors=True)  # best model is in model/
    return report


@dataclass
class _Run:
    """What ``_set_up`` built for one job: the Trainer and the pieces the stages share."""

    trainer: Any
    scorer: Scorer
    save_best: Callable[[Any, dict[str, Any]], None]
    max_length: int
    n_validation: int
    test_split: EncodedSplit
    precision: dict[str, str]  # per stage, as resolved on this machine (the report's)


def _set_up(job, config, source, tokenizer, table, encoded, examples, budget, out_dir) -> _Run:
    """Model, token ids of each split and the Trainer, seeded."""
    # First: a precision this machine cannot run (fp16 without CUDA) fails before any loading.
    precision = resolve_all(config.precision)
    set_seed(config.seed)
    model = load_classifier(
        source, job, seed=config.seed, attention_dropout=config.attention_dropout
    )
    max_length = effective_max_length(config.max_length, source, tokenizer)
    encoded = _encoded_for(table, encoded, tokenizer, max_length)
    datasets = {
        name: EncodedSplit(encoded, examples.indices[name], examples.targets[name])
        for name in examples.indices
    }
    model_dir = out_dir / paths.JOB_MODEL

    def save_best(trained_model, info: dict[str, Any]) -> None:
        save_best_model(trained_model, tokenizer, model_dir, info)

    scorer = Scorer(job)
    trainer = _build_trainer(config, budget, model, tokenizer, datasets, job, out_dir)
    trainer.compute_metrics = scorer
    trainer.eval_precision = precision["evaluate"]  # validation and test
    return _Run(
        trainer,
        scorer,
        save_best,
        max_length,
        len(datasets["validation"]),
        datasets["test"],
        precision,
    )


def _outcome(trainer, callback, best: dict[str, Any], resumed_from: int | None) -> dict:
    """How training went: best and last step, epochs, early stop, resume."""
    return {
        "best_epoch": best["epoch"],
        "best_step": best["step"],
        "global_step": trainer.state.global_step,
        "epochs_trained": round(trainer.state.epoch or 0.0, 4),
        "stopped_early": callback.stopped_early,
        "resumed_from_step": resumed_from,
        "thresholds": best.get("thresholds"),
    }


def _train(job: ModelJob, trainer, callback, checkpoint: Path | None, out_dir: Path) -> float:
    """Run the Trainer loop; returns training seconds without the validation passes in it."""
    start = time.perf_counter()
    with disk_errors(out_dir):
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if callback.cancelled:
        raise JobCancelled(f"{job.id}: cancelled at step {trainer.state.global_step}.")
    return max(time.perf_counter() - start - trainer.eval_seconds, 1e-9)


def _start_or_resume(job: ModelJob, out_dir: Path, metrics: MetricsWriter, resume: bool):
    """(checkpoint to resume from or None, best model info so far, step resumed from)."""
    model_dir = out_dir / paths.JOB_MODEL
    checkpoint_root = out_dir / paths.JOB_CHECKPOINT
    out_dir.mkdir(parents=True, exist_ok=True)
    restore_model_dir(model_dir)
    checkpoint = latest_checkpoint(checkpoint_root) if resume else None
    if checkpoint is None:
        shutil.rmtree(checkpoint_root, ignore_errors=True)
        shutil.rmtree(model_dir, ignore_errors=True)
        (out_dir / paths.JOB_REPORT).unlink(missing_ok=True)
        truncate_job_after(metrics.path, job.id, -1)
        return None, None, None
    resumed_from = checkpoint_step(checkpoint)
    # a test record is written after the last checkpoint: it is redone too
    truncate_job_after(metrics.path, job.id, resumed_from, drop_kinds=(TEST,))
    log.info("%s: resuming from %s", job.id, checkpoint)
    return checkpoint, read_best(model_dir), resumed_from


def _build_trainer(config, budget, model, tokenizer, datasets, job, out_dir: Path):
    """transformers' Trainer on our pre-tokenized splits, sized by the job's budget."""
    has_validation = len(datasets["validation"]) > 0
    trainer = ArenaTrainer(
        model=model,
        args=training_args(
            config, out_dir / paths.JOB_CHECKPOINT, has_validation, epochs=budget.epochs
        ),
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"] if has_validation else None,
        processing_class=tokenizer,
        data_collator=PadCollator(
            tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None
        ),
        compute_loss_func=(
            class_weight_loss(job, np.asarray(datasets["train"].targets))
            if config.class_weights
            else None
        ),
    )
    for noisy in (PrinterCallback, ProgressCallback):  # they print; we log to metrics.jsonl
        trainer.remove_callback(noisy)
    return trainer


def _settle_best(job, trainer, callback, save_best, model_dir: Path, n_validation: int):
    """The best model's info once training ended; saves the last weights when nothing
    validated them (no validation rows)."""
    if not n_validation:
        callback.best = {
            "epoch": int(round(trainer.state.epoch or 0)),
            "step": trainer.state.global_step,
            "metrics": None,
            "thresholds": (
                dict.fromkeys(job.labels, DEFAULT_THRESHOLD)
                if job.strategy is Strategy.MULTI_LABEL
                else None
            ),
        }
        with disk_errors(model_dir.parent):
            save_best(trainer.model, callback.best)
    elif callback.best is None:  # resumed past the last evaluation with model/ lost
        trainer.evaluate()
    best = callback.best or read_best(model_dir)
    if best is None or not (model_dir / "config.json").is_file():
        raise TrainingError(f"{job.id}: training ended without a saved model; start it again.")
    return best


def _test_best(job: ModelJob, run: _Run, model_dir: Path, best, metrics: MetricsWriter):
    """Test metrics of the best model and their time; (None, 0) without a test split."""
    if not len(run.test_split):
        return None, 0.0
    test_metrics, seconds = _test(run.trainer, run.scorer, run.test_split, model_dir, best)
    _log_test(metrics, job, run.trainer, test_metrics)
    return test_metrics, seconds


def _log_test(metrics: MetricsWriter, job: ModelJob, trainer, test_metrics: dict[str, Any]) -> None:
    metrics.append(
        {
            "kind": TEST,
            "job": job.id,
            "step": trainer.state.global_step,
            "epoch": round(trainer.state.epoch or 0.0, 4),
            "test_loss": test_metrics.get("loss"),
            "test_macro_f1": test_metrics["macro_f1"],
            "test_accuracy": test_metrics["accuracy"],
            **metric_extras(test_metrics, prefix="test_"),
        }
    )


def _timings(trainer, started: float, train_seconds: float, test_seconds: float) -> dict:
    """Wall times of the stages; train time excludes the validation passes inside it."""
    return {
        "total_seconds": round(time.perf_counter() - started, 3),
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round(trainer.train_samples / train_seconds, 2),
        "eval_seconds": round(trainer.eval_seconds, 3),
        "eval_samples_per_second": round(trainer.eval_samples / trainer.eval_seconds, 2)
        if trainer.eval_seconds
        else None,
        "test_seconds": round(test_seconds, 3),
    }


def _test(trainer, scorer: Scorer, dataset, model_dir: Path, best: dict[str, Any]):
    """Metrics of the saved best weights on the test split (thresholds from validation)."""
    from safetensors.torch import load_model

    load_model(trainer.model, str(model_dir / "model.safetensors"))
    trainer.compute_metrics = None  # never tune anything on the test split
    start = time.perf_counter()
    output = trainer.predict(dataset, metric_key_prefix="test")
    seconds = time.perf_counter() - start
    details, _ = scorer.score(output.predictions, output.label_ids, best.get("thresholds"))
    details["loss"] = output.metrics.get("test_loss")
    return details, seconds
