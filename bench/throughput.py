"""Training throughput: our trainer vs (a) fixed padding and (b) a plain transformers.Trainer.

Same data, model (packaged MiniLM), seed, epochs, batch size, learning rate and eval batch size
for all three; tokenization and model loading happen outside the timed part for all three.

ours  ``arena_core.training.trainer.train_job`` as the worker calls it (texts pre-tokenized once, no
      padding; length-grouped batches padded to their longest row; per-epoch validation and
      checkpoint). Train samples/s is the report's figure: training wall time minus validation,
      so its per-epoch checkpoint and best-model saves count against it.
(a)   every input padded to max_length=128 (``padding="max_length"``), default collator, random
      batches: the setup of the tool we replace and of common no-code trainers.
(b)   ``transformers.Trainer`` with ``DataCollatorWithPadding`` and default settings (random
      batches padded per batch), no checkpoints (``save_strategy="no"``), no per-epoch eval.
For (a) and (b) train samples/s = n_train * epochs / ``trainer.train()`` wall time and eval
samples/s = n_validation / ``trainer.predict()`` wall time on the validation set.

An untimed warm-up run comes first; then runs alternate ours/(a)/(b), rotating the order each
round; the ratios are the medians of the per-round ratios. Macro-F1: ours from its last validation line, (a)/(b) from their predictions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .common import median, offline_env, rounded, scratch
from .data import length_summary, prepared_session

log = logging.getLogger(__name__)

SIZES = {
    "smoke": {"n_train": 48, "n_val": 16, "epochs": 1, "runs": 1, "model": "tiny"},
    "small": {"n_train": 400, "n_val": 100, "epochs": 1, "runs": 3, "model": "minilm"},
    "full": {"n_train": 2000, "n_val": 500, "epochs": 2, "runs": 3, "model": "minilm"},
}
FIXED_LENGTH = 128
VARIANTS = ("ours", "fixed_padding", "hf_trainer")


class _Rows:
    """A list of feature dicts as a torch-style dataset (what ``datasets.map`` would give)."""

    def __init__(self, features: dict[str, list], labels: list[int]) -> None:
        self.features = features
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = {name: values[i] for name, values in self.features.items()}
        row["labels"] = self.labels[i]
        return row


def _setup(size: str) -> dict[str, Any]:
    from arena_core.session.manifest import TrainingConfig
    from arena_core.training.examples import job_examples
    from arena_core.training.models import load_tokenizer, resolve_model

    spec = SIZES[size]
    n = spec["n_train"] + spec["n_val"]
    config = TrainingConfig(
        model=spec["model"], epochs=spec["epochs"], batch_size=16, max_length=FIXED_LENGTH
    )
    prepared = prepared_session(n, ("category",), config, val_ratio=spec["n_val"] / n)
    table, split = prepared.dataset.table, prepared.split
    job = prepared.jobs[0]
    examples = job_examples(table, split, job)
    source = resolve_model(config.model)
    tokenizer = load_tokenizer(source)
    return {
        "spec": spec,
        "config": config,
        "table": table,
        "split": split,
        "job": job,
        "examples": examples,
        "source": source,
        "tokenizer": tokenizer,
    }


def _texts(setup: dict[str, Any], name: str) -> list[str]:
    positions = setup["examples"].indices[name]
    return setup["table"]["text"].iloc[positions].tolist()


def _labels(setup: dict[str, Any], name: str) -> list[int]:
    return [int(t) for t in setup["examples"].targets[name]]


@contextmanager
def _timed_saves() -> Iterator[dict[str, float]]:
    """Time the trainer's checkpoint and best-model saves (wrapped, behaviour unchanged)."""
    from arena_core.training import hf_loop, trainer

    spent = {"checkpoint_s": 0.0, "best_model_s": 0.0, "tokens": 0}
    save_checkpoint = hf_loop.ArenaTrainer._save_checkpoint
    save_best = trainer.save_best_model
    training_step = hf_loop.ArenaTrainer.training_step

    def counted_step(self, model, inputs, num_items_in_batch=None):
        spent["tokens"] += int(inputs["input_ids"].numel())
        return training_step(self, model, inputs, num_items_in_batch)

    def timed(function, name):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    hf_loop.ArenaTrainer._save_checkpoint = timed(save_checkpoint, "checkpoint_s")
    trainer.save_best_model = timed(save_best, "best_model_s")
    hf_loop.ArenaTrainer.training_step = counted_step
    try:
        yield spent
    finally:
        del hf_loop.ArenaTrainer._save_checkpoint  # back to the inherited method
        trainer.save_best_model = save_best
        hf_loop.ArenaTrainer.training_step = training_step


def _run_ours(setup: dict[str, Any], encoded, folder: Path) -> dict[str, Any]:
    from arena_core.store.metrics_log import EVAL, MetricsWriter, read_metrics
    from arena_core.training.trainer import train_job

    metrics_path = folder / "metrics.jsonl"
    with _timed_saves() as saves:
        report = train_job(
            setup["job"],
            setup["config"],
            setup["table"],
            setup["split"],
            folder / "job",
            MetricsWriter(metrics_path),
            encoded=encoded,
            tokenizer=setup["tokenizer"],
        )
    records, _ = read_metrics(metrics_path)
    last_eval = [r for r in records if r.get("kind") == EVAL][-1]
    timings = report.timings.model_dump()
    # the best-model save runs inside evaluation's callback: outside eval_seconds, so in train
    train_only = timings["train_seconds"] - saves["checkpoint_s"] - saves["best_model_s"]
    samples = timings["samples_per_second"] * timings["train_seconds"]
    return {
        "train_samples_per_s": timings["samples_per_second"],
        "eval_samples_per_s": timings["eval_samples_per_second"],
        "macro_f1": last_eval["val_macro_f1"],
        "train_seconds": timings["train_seconds"],
        "train_tokens": saves["tokens"],
        "saves_in_train_s": round(saves["checkpoint_s"] + saves["best_model_s"], 3),
        "train_samples_per_s_without_saves": round(samples / max(train_only, 1e-9), 2),
    }


def _run_baseline(setup: dict[str, Any], variant: str, folder: Path) -> dict[str, Any]:
    """Variant (a) or (b): a plain ``transformers.Trainer``, timed for training and prediction."""
    import numpy as np
    from sklearn.metrics import f1_score

    config, tokenizer = setup["config"], setup["tokenizer"]
    fixed = variant == "fixed_padding"
    padding = "max_length" if fixed else False

    def rows(name: str) -> _Rows:
        features = tokenizer(
            _texts(setup, name), truncation=True, max_length=FIXED_LENGTH, padding=padding
        )
        return _Rows(dict(features), _labels(setup, name))

    train, validation = rows("train"), rows("validation")
    trainer = _baseline_trainer(setup, fixed, train, folder)
    tokens = _count_tokens(trainer)
    start = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    output = trainer.predict(validation)
    eval_seconds = time.perf_counter() - start
    predictions = np.asarray(output.predictions).argmax(axis=-1)
    return {
        "train_samples_per_s": round(len(train) * config.epochs / train_seconds, 2),
        "eval_samples_per_s": round(len(validation) / eval_seconds, 2),
        "macro_f1": float(
            f1_score(validation.labels, predictions, average="macro", zero_division=0)
        ),
        "train_seconds": round(train_seconds, 3),
        "train_tokens": tokens[0],
    }


def _baseline_trainer(setup: dict[str, Any], fixed: bool, train: _Rows, folder: Path):
    """A fresh model and a default ``Trainer`` with the shared hyper-parameters, no saves."""
    from transformers import (
        AutoModelForSequenceClassification,
        BertConfig,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        default_data_collator,
        set_seed,
    )

    from arena_core.training.models import TINY_CONFIG

    config, tokenizer, job = setup["config"], setup["tokenizer"], setup["job"]
    set_seed(config.seed)
    if setup["source"].kind == "tiny":
        model = AutoModelForSequenceClassification.from_config(
            BertConfig(vocab_size=len(tokenizer), num_labels=len(job.labels), **TINY_CONFIG)
        )
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            setup["source"].ref, num_labels=len(job.labels), local_files_only=True
        )
    args = TrainingArguments(
        output_dir=str(folder),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        data_collator=default_data_collator if fixed else DataCollatorWithPadding(tokenizer),
    )
    trainer.remove_callback(PrinterCallback)  # it prints the final train metrics to stdout
    return trainer


def _count_tokens(trainer) -> list[int]:
    """Count the (padded) input tokens of every training step into the returned one-item list."""
    tokens = [0]
    training_step = trainer.training_step

    def counted_step(model, inputs, num_items_in_batch=None):  # padded tokens, for the details
        tokens[0] += int(inputs["input_ids"].numel())
        return training_step(model, inputs, num_items_in_batch)

    trainer.training_step = counted_step
    return tokens


def _warm_up(setup: dict[str, Any], folder: Path) -> None:
    """A short untimed Trainer run on 32 rows: no setup pays the process's first-run costs
    (kernel selection, allocator growth, accelerate state), whichever runs first."""
    from arena_core.training.examples import JobExamples

    examples = setup["examples"]
    small = JobExamples(
        {name: positions[:32] for name, positions in examples.indices.items()},
        {name: targets[:32] for name, targets in examples.targets.items()},
    )
    _run_baseline({**setup, "examples": small}, "hf_trainer", folder)


def run(size: str = "small") -> dict[str, Any]:
    """Alternating runs of the three setups; ratios of train samples/s (medians of rounds)."""
    from arena_core.training.tokens import encode_texts

    offline_env()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    setup = _setup(size)
    encoded = encode_texts(setup["tokenizer"], setup["table"]["text"].tolist(), FIXED_LENGTH)
    with scratch("throughput") as root:
        _warm_up(setup, root / "warm-up")
        rounds = _rounds(setup, encoded, root)
    return _report(setup, rounds)


def _rounds(setup: dict[str, Any], encoded, root: Path) -> list[dict[str, dict[str, Any]]]:
    """Each round runs every variant once, the order rotated by one per round."""
    import gc

    rounds: list[dict[str, dict[str, Any]]] = []
    for r in range(setup["spec"]["runs"]):
        order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
        results: dict[str, dict[str, Any]] = {}
        for variant in order:
            folder = root / f"{r}-{variant}"
            if variant == "ours":
                results[variant] = _run_ours(setup, encoded, folder)
            else:
                results[variant] = _run_baseline(setup, variant, folder)
            log.info("round %d %s: %s", r, variant, results[variant])
            gc.collect()
        rounds.append(results)
    return rounds


def _report(setup: dict[str, Any], rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The headline ratios (medians of per-round ratios) and the per-variant medians."""

    def ratio(other: str) -> float | None:
        return median(
            [
                x["ours"]["train_samples_per_s"] / x[other]["train_samples_per_s"]
                for x in rounds
                if x[other]["train_samples_per_s"]
            ]
        )

    summary = {
        variant: {
            name: rounded(median([x[variant][name] for x in rounds]), 4)
            for name in ("train_samples_per_s", "eval_samples_per_s", "macro_f1", "train_tokens")
        }
        for variant in VARIANTS
    }
    eval_ratio = {
        other: rounded(
            median(
                [x["ours"]["eval_samples_per_s"] / x[other]["eval_samples_per_s"] for x in rounds]
            )
        )
        for other in VARIANTS[1:]
    }
    f1_delta = summary["ours"]["macro_f1"] - summary["hf_trainer"]["macro_f1"]
    return {
        "figures": {
            "throughput_ratio_vs_fixed_padding": rounded(ratio("fixed_padding")),
            "throughput_ratio_vs_hf_trainer": rounded(ratio("hf_trainer")),
            "f1_delta_vs_hf_trainer": rounded(f1_delta, 4),
        },
        "details": {
            "size": {**setup["spec"], "max_length": FIXED_LENGTH, "batch_size": 16},
            "data": length_summary(
                setup["table"]["text"].tolist(), setup["tokenizer"], FIXED_LENGTH
            ),
            "medians": summary,
            "eval_ratio_ours_over": eval_ratio,
            "rounds": rounds,
        },
    }
