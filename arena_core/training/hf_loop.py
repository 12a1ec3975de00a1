"""The pieces plugged into transformers' Trainer: our datasets and samplers, timing, and the
callback that writes metrics, reports progress, obeys cancel, keeps the best model and stops early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from arena_core.session.manifest import TrainingConfig
from arena_core.session.strategy import ModelJob
from arena_core.store.metrics_log import EVAL, TRAIN, MetricsWriter
from arena_core.training.heap import HeapTrimmer
from arena_core.training.precision import autocast, resolve
from arena_core.training.sampling import LengthBucketSampler, LengthSortedSampler
from arena_core.training.scoring import Scorer, metric_extras
from arena_core.training.tokens import Encoded

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class EncodedSplit(torch.utils.data.Dataset):
    """Pre-tokenized rows of one split: the shared ``Encoded`` and this split's positions in it
    (no copy of any ids); ``batches.PadCollator`` pads each batch to its longest row."""

    def __init__(self, encoded: Encoded, positions: np.ndarray, targets: np.ndarray) -> None:
        self.encoded = encoded
        self.positions = np.asarray(positions, dtype=np.int64)
        self.targets = np.asarray(targets)
        self.lengths = encoded.lengths[self.positions]

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.encoded.row(self.positions[i]), "labels": self.targets[i]}


class ArenaTrainer(Trainer):
    """Trainer that evaluates under inference_mode and counts samples and eval time."""

    train_samples = 0
    eval_samples = 0
    eval_seconds = 0.0

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not isinstance(dataset, EncodedSplit):
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthBucketSampler(dataset.lengths, batch, self.args.seed)

    def _get_eval_sampler(self, eval_dataset):
        if not isinstance(eval_dataset, EncodedSplit):
            return super()._get_eval_sampler(eval_dataset)
        return LengthSortedSampler(eval_dataset.lengths)

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.train_samples += int(inputs["input_ids"].shape[0])
        return super().training_step(model, inputs, num_items_in_batch)

    # The evaluate stage's precision (training.precision.resolve): it may differ from
    # training's, e.g. 'auto' evaluates in bf16 where training stays fp32.
    eval_precision = "fp32"

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        with torch.inference_mode(), autocast(self.eval_precision, self.args.device.type):
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def evaluation_loop(self, *args, **kwargs):
        start = time.perf_counter()
        output = super().evaluation_loop(*args, **kwargs)
        self.eval_seconds += time.perf_counter() - start
        self.eval_samples += int(output.num_samples or 0)
        return output


class ArenaCallback(TrainerCallback):
    """Metrics lines, progress, cancel, best model, early stopping and step checkpoints."""

    def __init__(
        self,
        job: ModelJob,
        metrics: MetricsWriter,
        scorer: Scorer,
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
                **metric_extras(details, prefix="val_"),
            }
        )
        patience = self.config.early_stopping_patience
        if patience and epoch - self.best["epoch"] >= patience:
            log.info("%s: no gain for %d epochs, stopping early", self.job.id, patience)
            self.stopped_early = True
            control.should_training_stop = True
        return control


def training_args(config: TrainingConfig, checkpoint_root: Path, has_validation: bool, epochs: int):
    """Trainer settings; ``epochs`` is the job's resolved budget (training.budget), so the
    learning-rate schedule decays over the steps the job really has. The train stage's
    precision (training.precision) becomes bf16/fp16 autocast over fp32 master weights."""
    on_gpu = torch.cuda.is_available()
    precision = resolve(config.precision, "train")
    return TrainingArguments(
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        # transformers refuses bf16 without a GPU unless told the CPU is meant
        use_cpu=not on_gpu and precision == "bf16",
        output_dir=str(checkpoint_root),
        num_train_epochs=epochs,
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
