"""Train one ModelJob with transformers' Trainer, streaming metrics to the session's log.

Stages of ``train_job``: data (rows + targets, tokens reused) -> model -> start or resume
(checkpoint + metrics log kept consistent) -> Trainer loop (callbacks: metrics, progress,
cancel, best model, early stopping, step checkpoints) -> test of the best model -> report.

Job folder: ``model/`` best weights so far (safetensors, tokenizer, thresholds for multi-label),
``checkpoint/checkpoint-<step>/`` the latest resumable state only (removed once the job
completes), ``report.json`` written last. This module is worker-side: it imports torch.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import (
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.utils import logging as hf_logging

from arena_core.errors import TrainingError
from arena_core.session.manifest import TrainingConfig, now_iso
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.store import paths
from arena_core.store.atomic import atomic_write_json, read_json, storage_error
from arena_core.store.metrics_log import EVAL, TEST, TRAIN, MetricsWriter, truncate_job_after
from arena_core.training.evaluation import (
    DEFAULT_THRESHOLD,
    classification_metrics,
    multilabel_metrics,
    tune_thresholds,
)
from arena_core.training.examples import JobExamples, job_examples
from arena_core.training.heap import HeapTrimmer
from arena_core.training.models import (
    effective_max_length,
    force_offline,
    load_classifier,
    load_tokenizer,
    resolve_model,
)
from arena_core.training.sampling import LengthBucketSampler, LengthSortedSampler
from arena_core.training.tokens import Encoded, encode_texts, encode_texts_cached

log = logging.getLogger(__name__)

BEST_INFO = "arena_eval.json"  # in model/: validation result of the weights saved there
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_COMPLETE_MARKER = "trainer_state.json"  # Trainer writes it after weights, optimizer and RNG
MAX_POS_WEIGHT = 50.0  # multi-label class weights: cap for very rare labels
# OSErrors that mean "the disk cannot take this write": shown as a StorageError saying what to do.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class JobCancelled(Exception):
    """``should_stop()`` returned true: training stopped cleanly, its checkpoint is kept."""


# ---------------------------------------------------------------- data


class _Examples(torch.utils.data.Dataset):
    """Pre-tokenized rows of one split; the collator pads each batch to its longest row."""

    def __init__(self, encoded: Encoded, positions: np.ndarray, targets: np.ndarray) -> None:
        self.ids = [encoded.input_ids[p] for p in positions.tolist()]
        self.targets = targets.tolist()
        self.lengths = [len(ids) for ids in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.targets[i]}


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


def _class_weight_loss(job: ModelJob, train_targets: np.ndarray) -> Callable | None:
    """Inverse-frequency weights (n / (k * count)); multi-label: BCE pos_weight = neg/pos."""
    if job.strategy is Strategy.MULTI_LABEL:
        positives = train_targets.sum(axis=0)
        negatives = len(train_targets) - positives
        pos_weight = torch.tensor(
            np.clip(negatives / np.maximum(positives, 1), 1.0, MAX_POS_WEIGHT), dtype=torch.float32
        )

        def bce(outputs, labels, num_items_in_batch=None):
            logits = outputs.logits
            return F.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=pos_weight.to(logits.device)
            )

        return bce
    counts = np.bincount(train_targets, minlength=len(job.labels)).astype(np.float64)
    weight = torch.tensor(
        len(train_targets) / (len(job.labels) * np.maximum(counts, 1)), dtype=torch.float32
    )

    def cross_entropy(outputs, labels, num_items_in_batch=None):
        logits = outputs.logits
        return F.cross_entropy(logits, labels, weight=weight.to(device=logits.device))

    return cross_entropy


class _Scorer:
    """Turns logits into metrics; keeps the details of the last validation pass."""

    def __init__(self, job: ModelJob) -> None:
        self.job = job
        self.multi_label = job.strategy is Strategy.MULTI_LABEL
        self.last: tuple[dict[str, Any], dict[str, float] | None] | None = None

    def score(self, logits, labels, thresholds: dict[str, float] | None = None):
        """(details, thresholds); multi-label thresholds are tuned here unless given."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.multi_label:
            probs = 1.0 / (1.0 + np.exp(-logits))
            if thresholds is None:
                thresholds = tune_thresholds(labels, probs, self.job.labels)
            details = multilabel_metrics(labels, probs, self.job.labels, thresholds)
            default = multilabel_metrics(labels, probs, self.job.labels, None)
            details["macro_f1_at_0.5"] = default["macro_f1"]
            return details, thresholds
        return classification_metrics(labels, logits.argmax(axis=-1), self.job.labels), None

    def __call__(self, prediction) -> dict[str, float]:
        details, thresholds = self.score(prediction.predictions, prediction.label_ids)
        self.last = (details, thresholds)
        return {"macro_f1": details["macro_f1"], "accuracy": details["accuracy"]}


# ---------------------------------------------------------------- files of the job folder


def _checkpoints(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint; incomplete ones (a crash while saving) are removed."""
    latest = None
    for _, path in _checkpoints(root):
        if (path / _COMPLETE_MARKER).is_file():
            latest = path
    for _, path in _checkpoints(root):
        if path != latest:
            shutil.rmtree(path, ignore_errors=True)
    return latest


def checkpoint_step(path: Path) -> int:
    return int(_CHECKPOINT.match(path.name).group(1))


def _restore_model_dir(model_dir: Path) -> None:
    """Finish a swap interrupted between its two renames (see ``_save_best``)."""
    old = model_dir.with_name(f".{model_dir.name}.old")
    if not model_dir.exists() and old.is_dir():
        os.replace(old, model_dir)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(model_dir.with_name(f".{model_dir.name}.tmp"), ignore_errors=True)


def _save_best(model, tokenizer, model_dir: Path, info: dict[str, Any]) -> None:
    """Replace model/ as a whole: readers see the previous best or the new one, never a mix."""
    tmp = model_dir.with_name(f".{model_dir.name}.tmp")
    old = model_dir.with_name(f".{model_dir.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    if info.get("thresholds"):
        model.config.thresholds = info["thresholds"]
    model.save_pretrained(tmp)  # safetensors, id2label/label2id in config.json
    tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / BEST_INFO, info)
    shutil.rmtree(old, ignore_errors=True)
    if model_dir.exists():
        os.replace(model_dir, old)
    os.replace(tmp, model_dir)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _disk_errors(out_dir: Path) -> Iterator[None]:
    """A full or read-only disk while saving a checkpoint or the best model: drop the half-written
    folders (frees space; the last complete checkpoint stays for a resume), then raise a
    StorageError that names the file and says what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            raise
        latest_checkpoint(out_dir / paths.JOB_CHECKPOINT)
        _restore_model_dir(out_dir / paths.JOB_MODEL)
        raise storage_error(Path(exc.filename or out_dir), exc) from exc


def _read_best(model_dir: Path) -> dict[str, Any] | None:
    try:
        return read_json(model_dir / BEST_INFO)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- Trainer pieces


class _ArenaTrainer(Trainer):
    """Trainer that evaluates under inference_mode and counts samples and eval time."""

    train_samples = 0
    eval_samples = 0
    eval_seconds = 0.0

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not isinstance(dataset, _Examples):
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthBucketSampler(dataset.lengths, batch, self.args.seed)

    def _get_eval_sampler(self, eval_dataset):
        if not isinstance(eval_dataset, _Examples):
            return super()._get_eval_sampler(eval_dataset)
        return LengthSortedSampler(eval_dataset.lengths)

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.train_samples += int(inputs["input_ids"].shape[0])
        return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        with torch.inference_mode():
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def evaluation_loop(self, *args, **kwargs):
        start = time.perf_counter()
        output = super().evaluation_loop(*args, **kwargs)
        self.eval_seconds += time.perf_counter() - start
        self.eval_samples += int(output.num_samples or 0)
        return output


class _ArenaCallback(TrainerCallback):
    """Metrics lines, progress, cancel, best model, early stopping and step checkpoints."""

    def __init__(
        self,
        job: ModelJob,
        metrics: MetricsWriter,
        scorer: _Scorer,
        save_best: Callable[[Any, dict[str, Any]], None],
        best: dict[str, Any] | None,
        config: TrainingConfig,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> None:
        self.job = job
        self.metrics = metrics
        self.scorer = scorer
        self.save_best = save_best
        self.best = best
        self.config = config
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.cancelled = False
        self.stopped_early = False
        self.heap = HeapTrimmer()  # keeps the worker's memory flat (arena_core/heap.py)

    def on_train_begin(self, args, state, control, **kwargs):
        self.heap.trim()  # what the previous job of this worker freed
        if self.on_progress:
            self.on_progress(state.global_step, state.max_steps)

    def on_train_end(self, args, state, control, **kwargs):
        log.debug("%s: heap trimmed %d times", self.job.id, self.heap.trims)

    def on_step_end(self, args, state, control, **kwargs):
        self.heap.after_step()
        if self.on_progress:
            self.on_progress(state.global_step, state.max_steps)
        every = self.config.checkpoint_every_steps
        if every and state.global_step % every == 0:
            control.should_save = True
        if self.should_stop and self.should_stop():
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True  # so a later resume loses nothing
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.cancelled and not float(state.epoch or 0).is_integer():
            control.should_evaluate = False  # a partial epoch is not an epoch result
        if not self.cancelled and state.max_steps and state.global_step >= state.max_steps:
            # The last epoch's checkpoint would be deleted as soon as the job completes (the
            # best model is saved on its own): skip writing it (0.4-1.3 s per MiniLM job).
            control.should_save = False
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.metrics.append(
                {
                    "kind": TRAIN,
                    "job": self.job.id,
                    "step": state.global_step,
                    "epoch": round(state.epoch or 0.0, 4),
                    "train_loss": logs["loss"],
                    "learning_rate": logs.get("learning_rate"),
                    "grad_norm": logs.get("grad_norm"),
                }
            )

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        details, thresholds = self.scorer.last
        epoch = int(round(state.epoch or 0))
        score = details["macro_f1"]
        is_best = self.best is None or score > self.best["metrics"]["macro_f1"]
        if is_best:
            self.best = {
                "epoch": epoch,
                "step": state.global_step,
                "metrics": {**details, "loss": metrics.get("eval_loss")},
                "thresholds": thresholds,
            }
            self.save_best(model, self.best)
        self.metrics.append(
            {
                "kind": EVAL,
                "job": self.job.id,
                "step": state.global_step,
                "epoch": round(state.epoch or 0.0, 4),
                "val_loss": metrics.get("eval_loss"),
                "val_macro_f1": score,
                "val_accuracy": details["accuracy"],
                "is_best": is_best,
                **_extras(details, prefix="val_"),
            }
        )
        patience = self.config.early_stopping_patience
        if patience and epoch - self.best["epoch"] >= patience:
            log.info("%s: no gain for %d epochs, stopping early", self.job.id, patience)
            self.stopped_early = True
            control.should_training_stop = True
        return control


def _extras(details: dict[str, Any], prefix: str) -> dict[str, Any]:
    extra = {"per_label": details.get("per_label")}
    if "confusion_matrix" in details:
        extra["confusion_matrix"] = details["confusion_matrix"]
        extra["labels"] = details["labels"]
    for name in ("micro_f1", "macro_f1_at_0.5"):
        if name in details:
            extra[prefix + name] = details[name]
    return extra


def _training_args(config: TrainingConfig, checkpoint_root: Path, has_validation: bool):
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(checkpoint_root),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float < 1 is a ratio of the total steps
        lr_scheduler_type="linear",
        eval_strategy="epoch" if has_validation else "no",
        save_strategy="epoch",  # plus every checkpoint_every_steps (callback)
        save_total_limit=1,  # only the latest checkpoint: bounded disk
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,  # a first loss point at once: the live chart is never empty
        seed=config.seed,
        # Our samplers (arena_core/sampling.py) replace this for our datasets; it stays the
        # fallback for anything else.
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
        report_to="none",
        disable_tqdm=True,
        log_level="warning",
    )


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
) -> dict[str, Any]:
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
    checkpoint_root = out_dir / paths.JOB_CHECKPOINT

    # data
    examples = job_examples(table, split, job)
    source = resolve_model(config.model, allowed_roots=model_roots)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(source)

    # start or resume: the metrics log must not keep steps the model is about to redo
    out_dir.mkdir(parents=True, exist_ok=True)
    _restore_model_dir(model_dir)
    checkpoint = latest_checkpoint(checkpoint_root) if resume else None
    if checkpoint is None:
        shutil.rmtree(checkpoint_root, ignore_errors=True)
        shutil.rmtree(model_dir, ignore_errors=True)
        (out_dir / paths.JOB_REPORT).unlink(missing_ok=True)
        truncate_job_after(metrics.path, job.id, -1)
        best = None
        resumed_from = None
    else:
        resumed_from = checkpoint_step(checkpoint)
        # a test record is written after the last checkpoint: it is redone too
        truncate_job_after(metrics.path, job.id, resumed_from, drop_kinds=(TEST,))
        best = _read_best(model_dir)
        log.info("%s: resuming from %s", job.id, checkpoint)

    # model
    set_seed(config.seed)
    model = load_classifier(
        source, job, seed=config.seed, attention_dropout=config.attention_dropout
    )
    max_length = effective_max_length(config.max_length, source, tokenizer)
    encoded = _encoded_for(table, encoded, tokenizer, max_length)
    datasets = {
        name: _Examples(encoded, examples.indices[name], examples.targets[name])
        for name in examples.indices
    }
    has_validation = len(datasets["validation"]) > 0
    scorer = _Scorer(job)

    def save_best(trained_model, info: dict[str, Any]) -> None:
        _save_best(trained_model, tokenizer, model_dir, info)

    callback = _ArenaCallback(
        job, metrics, scorer, save_best, best, config, on_progress, should_stop
    )
    trainer = _ArenaTrainer(
        model=model,
        args=_training_args(config, checkpoint_root, has_validation),
        train_dataset=datasets["train"],
        eval_dataset=datasets["validation"] if has_validation else None,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(
            tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None
        ),
        compute_metrics=scorer,
        compute_loss_func=(
            _class_weight_loss(job, examples.targets["train"]) if config.class_weights else None
        ),
        callbacks=[callback],
    )
    for noisy in (PrinterCallback, ProgressCallback):  # they print; we log to metrics.jsonl
        trainer.remove_callback(noisy)

    # train
    train_start = time.perf_counter()
    with _disk_errors(out_dir):
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_wall = time.perf_counter() - train_start
    if callback.cancelled:
        raise JobCancelled(f"{job.id}: cancelled at step {trainer.state.global_step}.")
    eval_during_train = trainer.eval_seconds
    if not has_validation:
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
        with _disk_errors(out_dir):
            save_best(trainer.model, callback.best)
    elif callback.best is None:  # resumed past the last evaluation with model/ lost
        trainer.evaluate()
    best = callback.best or _read_best(model_dir)
    if best is None or not (model_dir / "config.json").is_file():
        raise TrainingError(f"{job.id}: training ended without a saved model; start it again.")

    # test the best model
    test_metrics, test_seconds = None, 0.0
    if len(datasets["test"]):
        test_metrics, test_seconds = _test(trainer, scorer, datasets["test"], model_dir, best)
        metrics.append(
            {
                "kind": TEST,
                "job": job.id,
                "step": trainer.state.global_step,
                "epoch": round(trainer.state.epoch or 0.0, 4),
                "test_loss": test_metrics.get("loss"),
                "test_macro_f1": test_metrics["macro_f1"],
                "test_accuracy": test_metrics["accuracy"],
                **_extras(test_metrics, prefix="test_"),
            }
        )

    # report
    train_seconds = max(train_wall - eval_during_train, 1e-9)
    report = {
        "job": job.model_dump(mode="json"),
        "status": "completed",
        "finished_at": now_iso(),
        "model_source": source.as_dict(),
        "config": config.model_dump(mode="json"),
        "max_length": max_length,
        "best_epoch": best["epoch"],
        "best_step": best["step"],
        "global_step": trainer.state.global_step,
        "epochs_trained": round(trainer.state.epoch or 0.0, 4),
        "stopped_early": callback.stopped_early,
        "resumed_from_step": resumed_from,
        "metrics": best["metrics"],
        "test_metrics": test_metrics,
        "thresholds": best.get("thresholds"),
        "n_train": examples.count("train"),
        "n_validation": examples.count("validation"),
        "n_test": examples.count("test"),
        "excluded_rows": examples.n_excluded,
        "excluded": examples.excluded,
        "train_class_counts": _class_counts(job, examples),
        "timings": {
            "total_seconds": round(time.perf_counter() - started, 3),
            "train_seconds": round(train_seconds, 3),
            "samples_per_second": round(trainer.train_samples / train_seconds, 2),
            "eval_seconds": round(trainer.eval_seconds, 3),
            "eval_samples_per_second": round(trainer.eval_samples / trainer.eval_seconds, 2)
            if trainer.eval_seconds
            else None,
            "test_seconds": round(test_seconds, 3),
        },
        "model_dir": paths.JOB_MODEL,
    }
    atomic_write_json(out_dir / paths.JOB_REPORT, report)
    shutil.rmtree(checkpoint_root, ignore_errors=True)  # the best model is in model/
    return report


def _test(trainer, scorer: _Scorer, dataset, model_dir: Path, best: dict[str, Any]):
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


def _class_counts(job: ModelJob, examples: JobExamples) -> dict[str, int]:
    train = examples.targets["train"]
    if job.strategy is Strategy.MULTI_LABEL:
        return {label: int(n) for label, n in zip(job.labels, train.sum(axis=0), strict=True)}
    counts = np.bincount(train, minlength=len(job.labels))
    return {label: int(n) for label, n in zip(job.labels, counts, strict=True)}
