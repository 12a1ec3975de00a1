"""Time to quality: wall time until validation macro-F1 reaches a shared target, ours vs a
competent ``transformers.Trainer``.

Throughput alone flatters us against a careless baseline (random batches, attention dropout,
no warmup). What a user feels is how long until the model is good, so both sides train the
same rows with the same hyper-parameters and are compared on the time to the same score.

ours    ``run_job`` exactly as the worker calls it (``shared_inputs``: texts tokenized once,
        length-bucketed batches, per-epoch validation, best-model save and checkpoint), the
        default ``TrainingConfig`` (model MiniLM, precision 'auto', lr 1e-4, warmup 0.1,
        weight decay 0.01, batch 16, eval batch 64, attention dropout 0) except ``epochs`` fixed
        and early stopping off.
theirs  ``transformers.Trainer`` with ``train_sampling_strategy="group_by_length"``,
        ``DataCollatorWithPadding``, the same lr, warmup ratio, weight decay, batch sizes,
        epochs and seed, the same model and head initialisation (``load_classifier``, attention
        dropout 0 on the model config), evaluation every epoch, fp32 (its default), no saves.

Model load and tokenization happen before the clock for both. The clock starts when training
starts (ours: ``trainer.train`` inside the job; theirs: ``trainer.train()``) and each validation
pass records (seconds since then, validation macro-F1): training and evaluation time both
count, and so do our per-epoch saves. Per round: target = min(best F1 ours, best F1 theirs);
time to target = elapsed at the first evaluation reaching it; ratio = theirs / ours. Rounds
alternate which side runs first and round r trains with seed r on both sides (the split stays
seed 0); per (profile, rows) the ratio is the median over rounds and the
figure ``time_to_quality_ratio_vs_trainer`` is the smallest of those medians.

Profiles (real texts, ``bench.quality_data``; split 60/20/20 as in ``bench.quality``):
short         WordNet noun glosses (median 65 characters)
long_tail     English fortunes (median 102 characters, p90 414, p99 1,136); 10,000 rows is more
              than the collection has, so that size uses Debian package descriptions (long)
length_label  WordNet glosses kept so that length goes with the label: labels ordered by their
              median length, label i keeps the rows whose length lies in the i-th of K
              overlapping bands of the pooled length quantiles (each band 4 of K + 3 equal
              steps; about 0.85 correlation ratio, eta, of character length on label where the
              plain collection has 0.21); eta is reported per case

Command line (the preset's parts can be overridden, e.g. one round of 2,000 rows)::

    python -m bench.time_to_quality --size small --rows 2000 --profiles long_tail --rounds 1
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from .common import machine, median, offline_env, print_and_save, rounded, scratch

log = logging.getLogger(__name__)

PROFILES = ("short", "long_tail", "length_label")
# Chosen so that both sides plateau within them (BENCHMARKS.md, "Time to quality").
EPOCHS = {60: 2, 400: 10, 2000: 4, 10000: 2}  # other row counts: max(2, 4000 / rows)
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"rows": (60,), "profiles": PROFILES, "rounds": 1, "model": "tiny"},
    "small": {"rows": (400,), "profiles": PROFILES, "rounds": 3, "model": "minilm"},
    "full": {"rows": (400, 2000, 10000), "profiles": PROFILES, "rounds": 3, "model": "minilm"},
}
SOURCES = {  # profile -> collections in order of preference (the first with enough rows)
    "short": ("wordnet_nouns",),
    "long_tail": ("fortunes_en", "debian_packages"),
    "length_label": ("wordnet_nouns",),
}
BAND_WIDTH = 4  # length_label: each label's band spans this many of the K + 3 quantile steps
SEED = 0
WARM_UP_ROWS = 32


def _say(message: str) -> None:
    print(f"[time_to_quality] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def length_label_frame(frame):
    """Rows of ``frame`` kept so that text length goes with the label (see the module doc)."""
    import numpy as np

    lengths = frame["text"].str.len()
    labels = lengths.groupby(frame["label"]).median().sort_values().index.tolist()
    steps = np.quantile(lengths, np.linspace(0, 1, len(labels) + BAND_WIDTH))
    keep = np.zeros(len(frame), dtype=bool)
    for i, label in enumerate(labels):
        low, high = steps[i], steps[i + BAND_WIDTH]
        keep |= (frame["label"] == label).to_numpy() & lengths.between(low, high).to_numpy()
    return frame[keep].reset_index(drop=True)


def correlation_ratio(values, groups) -> float:
    """eta: the share of the spread of ``values`` explained by ``groups`` (0 none, 1 all),
    square-rooted; the categorical counterpart of a correlation coefficient."""
    import pandas as pd

    series = pd.Series(values, dtype=float)
    by_group = series.groupby(pd.Series(groups).to_numpy())
    between = (by_group.count() * (by_group.mean() - series.mean()) ** 2).sum()
    total = ((series - series.mean()) ** 2).sum()
    return float((between / total) ** 0.5) if total else 0.0


def _source_frame(profile: str, rows: int) -> tuple[str, Any]:
    """(collection used, the rows to sample from) for ``profile`` at ``rows`` rows."""
    from .quality_data import collection_frame

    for name in SOURCES[profile]:
        frame = collection_frame(name)
        if profile == "length_label":
            frame = length_label_frame(frame)
        if len(frame) >= rows:
            return name, frame
    raise ValueError(f"profile {profile}: no collection has {rows} usable rows")


def make_profile_case(profile: str, rows: int, training):
    """The sampled rows of ``profile`` as a prepared session and split (``quality.make_case``,
    given our sample instead of a plain collection sample)."""
    from .quality import make_case
    from .quality_data import stratified_sample

    collection, frame = _source_frame(profile, rows)
    sample = stratified_sample(frame, rows, SEED)
    # make_case loads its rows through quality_data.load_collection: hand it this sample
    with mock.patch("bench.quality_data.load_collection", lambda *_: sample):
        case = make_case(profile, rows, SEED, training)
    lengths = sample["text"].str.len()
    info = {
        "collection": collection,
        "rows": rows,
        "train_rows": len(case.texts["train"]),
        "validation_rows": len(case.texts["validation"]),
        "labels": len(case.labels),
        "chars_p50_p90_p99": [int(lengths.quantile(q)) for q in (0.5, 0.9, 0.99)],
        "length_label_eta": rounded(correlation_ratio(lengths, sample["label"]), 3),
    }
    return case, info


# ---------------------------------------------------------------- the two sides


@contextmanager
def _our_clock() -> Iterator[dict[str, Any]]:
    """Start the clock where our job starts training, and note (elapsed, F1) at each
    validation, after its best-model save (wrapped; behaviour unchanged)."""
    from arena_core.training import hf_loop
    from arena_core.training import trainer as trainer_module

    seen: dict[str, Any] = {"start": None, "curve": []}
    train, on_evaluate = trainer_module._train, hf_loop.ArenaCallback.on_evaluate

    def timed_train(*args, **kwargs):
        seen["start"] = time.perf_counter()
        return train(*args, **kwargs)

    def noted(self, args, state, control, **kwargs):
        result = on_evaluate(self, args, state, control, **kwargs)
        if seen["start"] is None:
            raise RuntimeError("train_job no longer trains through trainer._train: fix _our_clock")
        score = self.scorer.last[0]["macro_f1"]
        seen["curve"].append(_point(seen["start"], state.epoch, score))
        return result

    trainer_module._train, hf_loop.ArenaCallback.on_evaluate = timed_train, noted
    try:
        yield seen
    finally:
        trainer_module._train, hf_loop.ArenaCallback.on_evaluate = train, on_evaluate


def _point(start: float, epoch: float | None, score: float) -> dict[str, float]:
    elapsed = time.perf_counter() - start
    return {
        "epoch": round(epoch or 0.0, 2),
        "seconds": rounded(elapsed, 2),
        "f1": rounded(score, 4),
    }


def run_ours(case, config, shared: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Our job as the worker runs it; its validation curve against the clock."""
    from arena_core.store.metrics_log import MetricsWriter
    from arena_core.training.job_runner import run_job

    from .throughput import _timed_saves

    prepared = case.prepared
    with _our_clock() as seen, _timed_saves() as saves:
        report = run_job(
            prepared.jobs[0],
            config,
            prepared.dataset.table,
            prepared.split,
            folder,
            MetricsWriter(folder / "metrics.jsonl"),
            shared=shared,
            on_progress=lambda *_: None,
            should_stop=lambda: False,
        )
    found = report.model_dump(mode="json")
    return {
        "curve": seen["curve"],
        "train_tokens": saves["tokens"],
        "saves_s": rounded(saves["checkpoint_s"] + saves["best_model_s"], 2),
        "precision": found.get("precision") or {"train": "fp32 (no precision in report)"},
    }


def run_theirs(case, config, tokenizer, folder: Path) -> dict[str, Any]:
    """A competent ``transformers.Trainer`` (see the module doc); its curve against the clock."""
    import warnings

    from transformers import (
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    from arena_core.training.evaluation import classification_metrics
    from arena_core.training.models import load_classifier, resolve_model

    from .quality import _quiet, _token_rows
    from .throughput import _count_tokens

    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # its default, on a CPU
    job = case.prepared.jobs[0]
    set_seed(config.seed)
    _quiet()  # no weights report on the load (a previous Trainer set the log level)
    model = load_classifier(
        resolve_model(config.model), job, seed=config.seed, attention_dropout=0.0
    )
    seen: dict[str, Any] = {"start": None, "curve": []}

    def macro_f1(prediction) -> dict[str, float]:
        predicted = prediction.predictions.argmax(axis=-1)
        return {"macro_f1": classification_metrics(prediction.label_ids, predicted, job.labels)["macro_f1"]}  # fmt: skip

    class Clock(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            seen["curve"].append(_point(seen["start"], state.epoch, metrics["eval_macro_f1"]))

    args = TrainingArguments(
        output_dir=str(folder),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float < 1 is a ratio of the total steps
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="no",
        seed=config.seed,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=_token_rows(tokenizer, case.texts["train"], case.targets["train"]),
        eval_dataset=_token_rows(tokenizer, case.texts["validation"], case.targets["validation"]),
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=macro_f1,
        callbacks=[Clock()],
    )
    trainer.remove_callback(PrinterCallback)
    tokens = _count_tokens(trainer)
    seen["start"] = time.perf_counter()
    trainer.train()
    return {
        "curve": seen["curve"],
        "train_tokens": tokens[0],
        "precision": {"train": "fp32", "evaluate": "fp32"},
    }


# ---------------------------------------------------------------- one case, the figure


def time_to_target(curve: list[dict[str, float]], target: float) -> dict[str, float] | None:
    """The first evaluation of ``curve`` at or above ``target`` (None if none)."""
    return next((p for p in curve if p["f1"] >= target - 1e-9), None)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Target, each side's seconds and epochs to it, ratio theirs / ours."""
    target = min(max(p["f1"] for p in ours["curve"]), max(p["f1"] for p in theirs["curve"]))
    hit = {side: time_to_target(r["curve"], target) for side, r in (("ours", ours), ("theirs", theirs))}  # fmt: skip
    return {
        "target_f1": target,
        "ours_s": hit["ours"]["seconds"],
        "theirs_s": hit["theirs"]["seconds"],
        "ours_epochs": hit["ours"]["epoch"],
        "theirs_epochs": hit["theirs"]["epoch"],
        "ratio": rounded(hit["theirs"]["seconds"] / max(hit["ours"]["seconds"], 1e-9), 3),
    }


def _warm_up(case, config, tokenizer, root: Path) -> None:
    """One untimed short Trainer run, so neither side pays the process's first-run costs."""
    from dataclasses import replace

    small = replace(
        case,
        texts={k: v[:WARM_UP_ROWS] for k, v in case.texts.items()},
        targets={k: v[:WARM_UP_ROWS] for k, v in case.targets.items()},
    )
    run_theirs(small, config.model_copy(update={"epochs": 1}), tokenizer, root / "warm-up")


def run_case(profile: str, rows: int, rounds: int, model: str, root: Path) -> dict[str, Any]:
    """Every round of one (profile, rows): ours and theirs, order alternating."""
    from arena_core.session.manifest import TrainingConfig
    from arena_core.training.job_runner import shared_inputs

    from .data import length_summary

    epochs = EPOCHS.get(rows) or max(2, round(4000 / rows))
    config = TrainingConfig(model=model, epochs=epochs, early_stopping_patience=0)
    case, info = make_profile_case(profile, rows, config)
    shared = shared_inputs(config, case.prepared.dataset.table)
    tokenizer = shared["tokenizer"]
    info["tokens"] = length_summary(case.texts["train"], tokenizer, config.max_length)
    info["epochs"] = epochs
    _warm_up(case, config, tokenizer, root)
    results = []
    for r in range(rounds):
        order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
        # Each round its own training seed (the same on both sides; the split stays): on a few
        # hundred rows the epoch a seed first reaches the target decides the ratio, so rounds
        # of one seed would only repeat the same curves with other timings.
        seeded = config.model_copy(update={"seed": SEED + r})
        found: dict[str, Any] = {}
        for side in order:
            folder = root / f"{profile}-{rows}-{r}-{side}"
            if side == "ours":
                found[side] = run_ours(case, seeded, shared, folder)
            else:
                found[side] = run_theirs(case, seeded, tokenizer, folder)
            gc.collect()
        outcome = {
            "round": r,
            "seed": seeded.seed,
            "order": list(order),
            **compare(found["ours"], found["theirs"]),
        }
        _say(f"{profile} {rows} round {r}: {outcome}")
        results.append({**outcome, "ours": found["ours"], "theirs": found["theirs"]})
    ratio = median([x["ratio"] for x in results])
    return {"profile": profile, **info, "ratio_median": rounded(ratio, 3), "rounds": results}


def parse_size(spec: str) -> dict[str, Any]:
    """A preset name, optionally with overrides: ``small:rounds=1,rows=2000,profiles=short``
    (several rows or profiles joined by ``+``)."""
    name, _, extra = spec.partition(":")
    chosen = dict(SIZES[name])
    for item in filter(None, extra.split(",")):
        key, _, value = item.partition("=")
        if key == "rounds":
            chosen["rounds"] = int(value)
        elif key == "rows":
            chosen["rows"] = tuple(int(v) for v in value.split("+"))
        elif key == "profiles":
            chosen["profiles"] = tuple(value.split("+"))
        else:
            raise ValueError(f"unknown size override {key!r} in {spec!r}")
    unknown = set(chosen["profiles"]) - set(PROFILES)
    if unknown:
        raise ValueError(f"unknown profile(s) {sorted(unknown)}; known: {', '.join(PROFILES)}")
    return chosen


def run(size: str = "small") -> dict[str, Any]:
    """Every (rows, profile) of the size; the figure is the smallest median ratio."""
    import os

    from transformers.utils import logging as hf_logging

    offline_env()
    hf_logging.disable_progress_bar()
    logging.getLogger("arena_core").setLevel(logging.ERROR)
    spec = parse_size(size)
    cases = []
    with scratch("ttq") as root:
        for rows in spec["rows"]:
            for profile in spec["profiles"]:
                load = round(os.getloadavg()[0], 2)
                start = time.perf_counter()
                found = run_case(profile, rows, spec["rounds"], spec["model"], root)
                found.update(load_avg_1m_before=load, seconds=round(time.perf_counter() - start))
                cases.append(found)
    ratios = [c["ratio_median"] for c in cases if c["ratio_median"] is not None]
    return {
        "figures": {"time_to_quality_ratio_vs_trainer": min(ratios) if ratios else None},
        "details": {"spec": {**spec, "epochs": EPOCHS, "seed": SEED}, "cases": cases},
    }


def summary_lines(details: dict[str, Any]) -> list[str]:
    """One line per (profile, rows): ratio, target, seconds and epochs of each side."""
    out = []
    for c in details.get("cases", []):
        last = c["rounds"][-1]
        out.append(
            f"  {c['profile']} {c['rows']} rows ({c['collection']}, {c['epochs']} epochs): ratio "
            f"{c['ratio_median']} (rounds {[x['ratio'] for x in c['rounds']]}); last round target "
            f"{last['target_f1']}: ours {last['ours_s']} s / {last['ours_epochs']} ep, theirs "
            f"{last['theirs_s']} s / {last['theirs_epochs']} ep"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.time_to_quality", description=__doc__)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--rows", nargs="+", type=int, help="override the preset's row counts")
    parser.add_argument("--profiles", nargs="+", choices=PROFILES)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the document here")
    args = parser.parse_args(argv)
    overrides = [
        *([f"rows={'+'.join(map(str, args.rows))}"] if args.rows else []),
        *([f"profiles={'+'.join(args.profiles)}"] if args.profiles else []),
        *([f"rounds={args.rounds}"] if args.rounds else []),
    ]
    size = args.size + (":" + ",".join(overrides) if overrides else "")
    start = time.perf_counter()
    document = run(size)
    document.update(size=size, seconds=round(time.perf_counter() - start, 1))

    document["machine"] = machine()
    print("\n".join(summary_lines(document["details"])))
    print_and_save(document, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
