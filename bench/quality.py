"""Quality on real text: our default session vs two baselines and a plain transformers.Trainer.

For each collection of the panel (``bench.quality_data``), size and seed: one stratified sample
and one split (validation 0.2, test 0.2, split seed = seed, multi-class on ``label``); on that
same split, test macro-F1 and wall time of

default       ``TrainingConfig(seed=seed)``, nothing else set: a session created in a scratch
              ARENA_HOME and trained in-process by ``run_session`` (step budget, early stopping
              on validation macro-F1, best weights tested); figures from its report.json
tfidf         ``fit_baseline("tfidf")``: fit on train, C chosen on validation
embed         ``fit_baseline("embed:minilm")``: frozen MiniLM mean-pooled + logistic regression
trainer       a plain ``transformers.Trainer`` with its own defaults (batch 8, lr 5e-5, no warmup,
              no weight decay, random batches), the packaged MiniLM, truncation at 128,
              ``DataCollatorWithPadding``; ``num_train_epochs`` = the epochs our default session
              really trained (rounded up); no validation, no early stopping; argmax on test

Figures (min over collection x size of the seed means; targets >= 0):
``quality_default_minus_best_baseline`` = default - max(tfidf, embed),
``quality_default_minus_trainer`` = default - trainer.

Experiments (``--set`` overrides the default session's TrainingConfig fields; ``--sampler``
swaps our length-bucketed batch order for random or HF length-grouped batches)::

    python -m bench.quality --collections fortunes_en --sizes 300 --seeds 1 \\
        --set min_steps=400 --set early_stopping_patience=3 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import median, offline_env, print_and_save, rounded, scratch

PANEL = ("fortunes_en", "fortunes_intl", "wordnet_nouns")
CONTENDERS = ("default", "tfidf", "embed", "trainer")
BASELINES = {"tfidf": "tfidf", "embed": "embed:{model}"}
SAMPLERS = ("bucket", "random", "grouped")
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"collections": ("fortunes_en",), "sizes": (120,), "seeds": 1, "model": "tiny"},
    "small": {"collections": PANEL, "sizes": (300, 1000), "seeds": 3, "model": "minilm"},
    "full": {"collections": PANEL, "sizes": (300, 1000, 5000), "seeds": 3, "model": "minilm"},
}
VAL_RATIO = 0.2
TEST_RATIO = 0.2
MAX_LENGTH = 128  # the plain Trainer's truncation (our default's max_length is 128 too)


@dataclass
class Case:
    """One (collection, size, seed): the prepared session and its rows per split."""

    collection: str
    size: int
    seed: int
    prepared: Any
    texts: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, list[int]] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return list(self.prepared.jobs[0].labels)

    def row(self, contender: str, f1: float | None, seconds: float, **extra: Any) -> dict:
        return {
            "collection": self.collection,
            "size": self.size,
            "seed": self.seed,
            "contender": contender,
            "test_macro_f1": rounded(f1, 4),
            "seconds": rounded(seconds, 1),
            **extra,
        }


def _say(message: str) -> None:
    print(f"[quality] {message}", file=sys.stderr, flush=True)


def _quiet() -> None:
    """transformers at error level again: every Trainer sets its own log level (ours: warning),
    which would let the next model load print its weights report."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _test_f1(case: Case, predicted, truth=None) -> float:
    from arena_core.training.evaluation import classification_metrics

    truth = case.targets["test"] if truth is None else truth
    return classification_metrics(truth, predicted, case.labels)["macro_f1"]


def _token_rows(tokenizer, texts: list[str], targets: list[int]) -> list[dict[str, Any]]:
    """Rows as feature dicts truncated at MAX_LENGTH (a list of dicts serves as a dataset)."""
    encoded = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
    columns = {name: encoded[name] for name in encoded}
    return [
        {**{name: values[i] for name, values in columns.items()}, "labels": label}
        for i, label in enumerate(targets)
    ]


def make_case(collection: str, size: int, seed: int, training) -> Case:
    """Sample, normalise and split (nothing written); the same split serves every contender."""
    from arena_core.data.dataset import normalise
    from arena_core.session.create import SessionSettings, prepare
    from arena_core.session.manifest import DatasetOptions, SplitSettings
    from arena_core.training.examples import job_examples

    from .quality_data import load_collection

    frame = load_collection(collection, size, seed)
    options = DatasetOptions(
        layout="label-columns",
        text_col="text",
        label_cols=["label"],
        lang_col="language" if "language" in frame else None,
    )
    name = f"{collection}-{size}-s{seed}"
    dataset = normalise(frame, options, source_name=f"{name}.csv")
    settings = SessionSettings(
        strategies={"label": "multi-class"},
        split=SplitSettings(val_ratio=VAL_RATIO, test_ratio=TEST_RATIO, seed=seed),
        training=training,
        name=name,
    )
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    prepared = prepare(dataset, settings, digest)
    if len(prepared.jobs) != 1:
        raise RuntimeError(f"{name}: expected one multi-class job, got {len(prepared.jobs)}")
    examples = job_examples(prepared.dataset.table, prepared.split, prepared.jobs[0])
    texts = prepared.dataset.table["text"]
    case = Case(collection, size, seed, prepared)
    for split in ("train", "validation", "test"):
        case.texts[split] = texts.iloc[examples.indices[split]].tolist()
        case.targets[split] = [int(t) for t in examples.targets[split]]
    return case


# ---------------------------------------------------------------- contenders


@contextmanager
def batch_order(sampler: str) -> Iterator[None]:
    """Our trainer's batch order for the duration: ``bucket`` (ours, unchanged), ``random``
    (plain shuffled rows) or ``grouped`` (transformers' LengthGroupedSampler: megabatches)."""
    if sampler == "bucket":
        yield
        return
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from arena_core.training.hf_loop import ArenaTrainer

    def patched(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if sampler == "random":
            return torch.utils.data.RandomSampler(dataset)  # seeded by Trainer's set_seed
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch, lengths=list(dataset.lengths))

    original = ArenaTrainer.__dict__["_get_train_sampler"]
    ArenaTrainer._get_train_sampler = patched
    try:
        yield
    finally:
        ArenaTrainer._get_train_sampler = original


@contextmanager
def traced_test(case: Case, curve: list[float]) -> Iterator[None]:
    """Experiments: after each validation pass, also score the test rows (appended to ``curve``),
    so any early-stopping patience up to the one used can be replayed exactly from one run."""
    from arena_core.training.hf_loop import ArenaTrainer

    own = ArenaTrainer.__dict__.get("evaluate")
    original = ArenaTrainer.evaluate

    def evaluate(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        rows = _token_rows(self.processing_class, case.texts["test"], case.targets["test"])
        scorer, self.compute_metrics = self.compute_metrics, None  # no validation side effects
        try:
            output = self.predict(rows, metric_key_prefix="trace")
        finally:
            self.compute_metrics = scorer
        # the eval sampler may reorder rows (group_by_length): score against the output's labels
        predicted = output.predictions.argmax(axis=-1)
        curve.append(rounded(_test_f1(case, predicted, output.label_ids), 4))
        return result

    ArenaTrainer.evaluate = evaluate
    try:
        yield
    finally:
        if own is None:
            del ArenaTrainer.evaluate  # back to the inherited method
        else:
            ArenaTrainer.evaluate = own


def run_default(case: Case, sampler: str = "bucket", trace: bool = False) -> dict[str, Any]:
    """Our default session, created in a scratch ARENA_HOME and trained in this process."""
    from arena_core.run.worker import run_session
    from arena_core.session.create import create_session
    from arena_core.store import paths
    from arena_core.store.atomic import read_json
    from arena_core.store.metrics_log import EVAL, read_metrics
    from arena_core.store.session_store import SessionStore

    with scratch("quality") as home:
        store = SessionStore(home)
        start = time.perf_counter()
        manifest = create_session(store, case.prepared)
        test_curve: list[float] = []
        _quiet()
        with batch_order(sampler), traced_test(case, test_curve) if trace else nullcontext():
            status = run_session(store, manifest.id)
        seconds = time.perf_counter() - start
        folder = paths.job_dir(store.session_dir(manifest.id), case.prepared.jobs[0].id)
        report = read_json(folder / paths.JOB_REPORT) if status.value == "completed" else None
        if report is None:
            reason = store.load(manifest.id).status_reason
            raise RuntimeError(f"default session ended {status.value}: {reason}")
        records, _ = read_metrics(store.session_dir(manifest.id) / paths.METRICS)
    curve = [rounded(r.get("val_macro_f1"), 4) for r in records if r.get("kind") == EVAL]
    test = report.get("test_metrics") or {}
    return case.row(
        "default",
        test.get("macro_f1"),
        seconds,
        val_macro_f1=rounded((report.get("metrics") or {}).get("macro_f1"), 4),
        epochs_trained=report.get("epochs_trained"),
        best_epoch=report.get("best_epoch"),
        stopped_early=report.get("stopped_early"),
        budget_epochs=(report.get("budget") or {}).get("epochs"),
        train_seconds=(report.get("timings") or {}).get("train_seconds"),
        val_curve=curve,  # validation macro-F1 after each epoch
        **({"test_curve": test_curve} if trace else {}),
    )


def run_baseline(case: Case, contender: str, model: str) -> dict[str, Any]:
    """A baseline fitted on train (C chosen on validation), scored on test."""
    from arena_core.training.baselines import fit_baseline

    name = BASELINES[contender].format(model=model)
    start = time.perf_counter()
    fitted = fit_baseline(
        name,
        "single",
        case.labels,
        case.texts["train"],
        case.targets["train"],
        case.texts["validation"],
        case.targets["validation"],
        seed=case.seed,
    )
    f1 = _test_f1(case, fitted.model.predict(case.texts["test"]))
    seconds = time.perf_counter() - start
    return case.row(contender, f1, seconds, model=name, chosen_c=fitted.chosen_c)


def _plain_model(model: str, n_labels: int):
    from transformers import AutoModelForSequenceClassification, BertConfig

    from arena_core.training.models import TINY_CONFIG, load_tokenizer, resolve_model

    _quiet()
    source = resolve_model(model)
    tokenizer = load_tokenizer(source)
    if source.kind == "tiny":
        config = BertConfig(vocab_size=len(tokenizer), num_labels=n_labels, **TINY_CONFIG)
        return AutoModelForSequenceClassification.from_config(config), tokenizer
    classifier = AutoModelForSequenceClassification.from_pretrained(
        source.ref, num_labels=n_labels, local_files_only=True
    )
    return classifier, tokenizer


def run_trainer(case: Case, epochs: int, model: str) -> dict[str, Any]:
    """A plain transformers.Trainer, its defaults, ``epochs`` passes over train; test argmax."""
    import warnings

    import numpy as np
    from transformers import (
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # default args, CPU machine
    start = time.perf_counter()
    set_seed(case.seed)
    classifier, tokenizer = _plain_model(model, len(case.labels))

    def rows(split: str) -> list[dict[str, Any]]:
        return _token_rows(tokenizer, case.texts[split], case.targets[split])

    with scratch("quality-trainer") as folder:
        args = TrainingArguments(
            output_dir=str(folder),
            num_train_epochs=epochs,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            seed=case.seed,
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=classifier,
            args=args,
            train_dataset=rows("train"),
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        output = trainer.predict(rows("test"))
    f1 = _test_f1(case, np.asarray(output.predictions).argmax(axis=-1), output.label_ids)
    return case.row("trainer", f1, time.perf_counter() - start, epochs=epochs)


# ---------------------------------------------------------------- the measure


def training_config(seed: int, model: str, overrides: dict[str, Any] | None = None):
    """Our default session's settings: ``TrainingConfig(seed=seed)`` (+ model, + overrides)."""
    from arena_core.session.manifest import TrainingConfig

    extra = {"model": model} if model != "minilm" else {}
    return TrainingConfig(seed=seed, **extra, **(overrides or {}))


def _describe(row: dict[str, Any]) -> str:
    text = (
        f"{row['collection']} {row['size']} seed {row['seed']} {row['contender']}: "
        f"test macro-F1 {row['test_macro_f1']} ({row['seconds']} s"
    )
    if row["contender"] == "default":
        early = ", stopped early" if row["stopped_early"] else ""
        text += (
            f", {row['epochs_trained']}/{row['budget_epochs']} epochs, best {row['best_epoch']}"
            f", val {row['val_macro_f1']}{early}"
        )
    elif "epochs" in row:
        text += f", {row['epochs']} epochs"
    return text + ")"


def run_case(
    case: Case, model: str, contenders, sampler: str = "bucket", trace: bool = False
) -> list[dict[str, Any]]:
    """Every chosen contender on one case; the Trainer's epochs come from our default's run."""
    rows: list[dict[str, Any]] = []
    default = None
    for contender in contenders:
        if contender == "default":
            default = run_default(case, sampler, trace)
            rows.append(default)
        elif contender == "trainer":
            if default is None:  # its epoch count is what our default trained
                default = run_default(case, sampler, trace)
            rows.append(run_trainer(case, math.ceil(default["epochs_trained"]), model))
        else:
            rows.append(run_baseline(case, contender, model))
        _say(_describe(rows[-1]))
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (collection, size, contender): macro-F1 mean and std over seeds, median seconds."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["collection"], row["size"], row["contender"]), []).append(row)
    out = []
    for (collection, size, contender), found in groups.items():
        scores = [r["test_macro_f1"] for r in found if r["test_macro_f1"] is not None]
        entry = {
            "collection": collection,
            "size": size,
            "contender": contender,
            "n": len(scores),
            "f1_mean": rounded(statistics.fmean(scores), 4) if scores else None,
            "f1_std": rounded(statistics.stdev(scores), 4) if len(scores) > 1 else 0.0,
            "seconds_median": rounded(median([r["seconds"] for r in found]), 1),
        }
        if contender == "default":
            entry["epochs_median"] = median([r["epochs_trained"] for r in found])
        out.append(entry)
    return out


def margins(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (collection, size): default - best baseline and default - trainer (seed means)."""
    means: dict[tuple[str, int], dict[str, float]] = {}
    for e in summary:
        if e["f1_mean"] is not None:
            means.setdefault((e["collection"], e["size"]), {})[e["contender"]] = e["f1_mean"]
    out = []
    for (collection, size), found in means.items():
        ours = found.get("default")
        best = max((found[c] for c in BASELINES if c in found), default=None)
        trainer = found.get("trainer")
        if ours is not None:
            out.append(
                {
                    "collection": collection,
                    "size": size,
                    "default_minus_best_baseline": _minus(ours, best),
                    "default_minus_trainer": _minus(ours, trainer),
                }
            )
    return out


def _minus(ours: float, other: float | None) -> float | None:
    return None if other is None else rounded(ours - other, 4)


def _lowest(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


def measure(
    collections=PANEL,
    sizes=(300, 1000),
    seeds: int = 3,
    model: str = "minilm",
    overrides: dict[str, Any] | None = None,
    contenders=CONTENDERS,
    sampler: str = "bucket",
    trace: bool = False,
) -> dict[str, Any]:
    """Run the grid; the measure's document (figures + details with every run's row)."""
    import logging

    from transformers.utils import logging as hf_logging

    offline_env()
    hf_logging.disable_progress_bar()  # "Loading weights" bars, once per model load
    logging.getLogger("arena_core").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    for collection in collections:
        for size in sizes:
            for seed in range(seeds):
                case = make_case(collection, size, seed, training_config(seed, model, overrides))
                rows.extend(run_case(case, model, contenders, sampler, trace))
    summary = summarise(rows)
    per_group = margins(summary)
    return {
        "figures": {
            "quality_default_minus_best_baseline": _lowest(
                [m["default_minus_best_baseline"] for m in per_group]
            ),
            "quality_default_minus_trainer": _lowest(
                [m["default_minus_trainer"] for m in per_group]
            ),
        },
        "details": {
            "spec": {
                **dict(collections=list(collections), sizes=list(sizes), seeds=seeds),
                **dict(model=model, overrides=overrides or {}, sampler=sampler, trace_test=trace),
                **dict(val_ratio=VAL_RATIO, test_ratio=TEST_RATIO),
            },
            "summary": summary,
            "margins": per_group,
            "rows": rows,
        },
    }


def run(size: str = "small") -> dict[str, Any]:
    spec = SIZES[size]
    return measure(spec["collections"], spec["sizes"], spec["seeds"], spec["model"])


def summary_lines(details: dict[str, Any]) -> list[str]:
    """One line per (collection, size): each contender's macro-F1 mean +- std, seconds."""
    groups: dict[tuple[str, int], list[str]] = {}
    for e in details.get("summary", []):
        shown = f"{e['contender']} {e['f1_mean']:.3f}+-{e['f1_std']:.3f} ({e['seconds_median']} s)"
        groups.setdefault((e["collection"], e["size"]), []).append(shown)
    return [f"  {c} {s}: " + ", ".join(parts) for (c, s), parts in groups.items()]


# ---------------------------------------------------------------- command line


def _parse_set(items: list[str]) -> dict[str, Any]:
    from arena_core.session.manifest import TrainingConfig

    overrides: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in TrainingConfig.model_fields:
            raise SystemExit(f"--set {item!r}: use NAME=VALUE with a TrainingConfig field")
        text = {"none": "null", "true": "true", "false": "false"}.get(raw.lower(), raw)
        try:
            overrides[name] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name] = raw
    TrainingConfig(**overrides)  # refuse bad values now, not after the first hour
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--size", choices=tuple(SIZES), default="small", help="preset grid")
    parser.add_argument("--full", action="store_true", help="the full preset (300/1000/5000)")
    parser.add_argument("--collections", nargs="+", help="override the preset's collections")
    parser.add_argument("--sizes", nargs="+", type=int, help="override the preset's row counts")
    parser.add_argument("--seeds", type=int, help="number of seeds (0..N-1)")
    parser.add_argument("--model", help="model of the runs (default: the preset's)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--sampler", choices=SAMPLERS, default="bucket", help="batch order")
    parser.add_argument(
        "--trace-test", action="store_true", help="also score test after each epoch (slower)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the document here")
    args = parser.parse_args(argv)
    spec = SIZES["full" if args.full else args.size]
    start = time.perf_counter()
    document = measure(
        args.collections or spec["collections"],
        args.sizes or spec["sizes"],
        args.seeds or spec["seeds"],
        args.model or spec["model"],
        _parse_set(args.set),
        args.contenders,
        args.sampler,
        args.trace_test,
    )
    document["seconds"] = round(time.perf_counter() - start, 1)
    print("\n".join(summary_lines(document["details"])))
    print_and_save(document, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
