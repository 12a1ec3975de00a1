"""bf16 against fp32: inference and training-step speed, and the quality of a bf16-trained model.

Decides ``AUTO_TRAINS_BF16`` (arena_core/training/precision.py): 'auto' trains in bf16 only
when the quality bar holds (bf16 test macro-F1 mean >= fp32 mean - 0.01 over the seeds) and a
training step is faster. Evaluation and prediction use bf16 under 'auto' wherever it is native.

inference    ``Predictor.predict`` (the Predict page's path) of the job model (the packaged
             MiniLM with a new head, as the trainer builds it), batch 16, on real texts
             (``wordnet_nouns``), with precision 'fp32' then 'bf16'; untimed warm-up, then runs
             alternate and the figure is the median of the per-round ratios fp32 s / bf16 s.
train step   forward + backward + AdamW step of the same model on the same real batches of 16
             (padded to their longest row, as the trainer's collator does), plain fp32 vs
             ``torch.autocast(bf16)`` over fp32 weights, which is what transformers'
             ``TrainingArguments(bf16=True)`` does; median of the per-round ratios.
quality      a session per seed and precision, ``TrainingConfig(seed=seed, precision=p)`` and
             nothing else (``bench.quality``: same sample, same split per seed, trained by the
             worker in this process); test macro-F1 from the job's report, 'bf16' minus 'fp32'
             (mean over seeds). 'fp32' evaluates in fp32 too, 'bf16' in bf16.

Both speed measures run at torch's default thread count (what the worker uses: the figures) and
again at one thread (details ``one_thread``): on a shared machine another process's load stalls
multi-threaded ops, which squeezes both ratios towards 1; one thread shows the kernels' own gain.

Figures: ``bf16_inference_speedup``, ``bf16_train_step_speedup``, ``bf16_train_f1_delta``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .common import machine, median, offline_env, print_and_save, rounded, scratch

SIZES: dict[str, dict[str, Any]] = {
    # tiny model and 1-epoch sessions: checks the measure runs, the figures mean nothing
    "smoke": {
        "model": "tiny",
        "speed_texts": 64,
        "rounds": 1,
        "steps": 3,
        "collections": ("wordnet_nouns",),
        "rows": 120,
        "seeds": 1,
        "overrides": {"epochs": 1},
    },
    "small": {
        "model": "minilm",
        "speed_texts": 320,
        "rounds": 3,
        "steps": 12,
        "collections": ("wordnet_nouns",),
        "rows": 300,
        "seeds": 3,
        "overrides": {},
    },
    "full": {
        "model": "minilm",
        "speed_texts": 640,
        "rounds": 5,
        "steps": 24,
        "collections": ("wordnet_nouns", "fortunes_en"),
        "rows": 300,
        "seeds": 3,
        "overrides": {},
    },
}
SPEED_COLLECTION = "wordnet_nouns"
BATCH = 16
WARM_UP_STEPS = 2
QUALITY_BAR = 0.01  # bf16 may lose at most this much test macro-F1 (seed means)
PRECISIONS = ("fp32", "bf16")
THREADS = ("default", "one")  # torch's own thread count (what the worker uses), then 1


@contextmanager
def torch_threads(which: str) -> Iterator[int]:
    """torch at its default thread count, or at one thread; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(before if which == "default" else 1)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _say(message: str) -> None:
    print(f"[precision] {message}", file=sys.stderr, flush=True)


def _job_model(model: str, labels: list[str]):
    """The model a job trains: ``load_classifier`` with the trainer's attention dropout."""
    from arena_core.session.manifest import TrainingConfig
    from arena_core.session.strategy import ModelJob, Strategy
    from arena_core.training.models import load_classifier, load_tokenizer, resolve_model

    source = resolve_model(model)
    job = ModelJob(id="bench", key="label", strategy=Strategy.MULTI_CLASS, labels=labels)
    dropout = TrainingConfig().attention_dropout
    return load_classifier(source, job, seed=0, attention_dropout=dropout), load_tokenizer(source)


def _speed_data(spec: dict[str, Any]) -> tuple[list[str], list[int], list[str]]:
    from .quality_data import load_collection

    frame = load_collection(SPEED_COLLECTION, spec["speed_texts"], seed=0)
    labels = sorted(frame["label"].unique())
    targets = [labels.index(v) for v in frame["label"]]
    return frame["text"].tolist(), targets, labels


def _inference(model, tokenizer, texts: list[str], rounds: int) -> dict[str, Any]:
    """Predictor.predict times per precision, alternating; ratio fp32 / bf16 per round."""
    from arena_core.training.predict import Predictor

    with scratch("precision-model") as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        predictors = {p: Predictor.load(folder, precision=p) for p in PRECISIONS}
        for predictor in predictors.values():  # untimed warm-up
            predictor.predict(texts[: 2 * BATCH], batch_size=BATCH)
        seconds: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        agree: list[float] = []
        for r in range(rounds):
            found = {}
            for precision in PRECISIONS if r % 2 == 0 else PRECISIONS[::-1]:
                start = time.perf_counter()
                found[precision] = predictors[precision].predict(texts, batch_size=BATCH)
                seconds[precision].append(time.perf_counter() - start)
            same = sum(
                a["label"] == b["label"] for a, b in zip(found["fp32"], found["bf16"], strict=True)
            )
            agree.append(same / len(texts))
    ratios = [f / b for f, b in zip(seconds["fp32"], seconds["bf16"], strict=True)]
    return {
        "texts": len(texts),
        "seconds": {p: [rounded(s, 3) for s in v] for p, v in seconds.items()},
        "texts_per_s": {p: rounded(len(texts) / median(v), 1) for p, v in seconds.items()},
        "ratios": [rounded(r, 3) for r in ratios],
        "speedup": rounded(median(ratios), 3),
        "same_top_label": rounded(min(agree), 4),  # untrained head: agreement, not accuracy
    }


def _batches(tokenizer, texts: list[str], targets: list[int], n: int) -> list[dict[str, Any]]:
    import torch

    out = []
    for start in range(0, BATCH * n, BATCH):
        rows = [
            (texts[i % len(texts)], targets[i % len(texts)]) for i in range(start, start + BATCH)
        ]
        batch = tokenizer(
            [t for t, _ in rows], truncation=True, max_length=128, padding=True, return_tensors="pt"
        )
        batch["labels"] = torch.tensor([y for _, y in rows])
        out.append(dict(batch))
    return out


def _steps_seconds(model, batches: list[dict[str, Any]], precision: str, device: str) -> float:
    """Seconds of the timed steps (after the warm-up ones) of one fresh optimizer."""
    import torch

    from arena_core.training.precision import autocast

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    start = 0.0
    for i, batch in enumerate(batches):
        if i == WARM_UP_STEPS:
            start = time.perf_counter()
        with autocast(precision, device):
            loss = model(**{name: t.to(device) for name, t in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()  # kernels are asynchronous: wait before reading the clock
    return time.perf_counter() - start


def _train_steps(model, tokenizer, texts, targets, steps: int, rounds: int) -> dict[str, Any]:
    """Training-step times per precision on the same batches, from the same weights."""
    import copy

    from arena_core.training.precision import hardware

    device = "cuda" if hardware().cuda else "cpu"  # a present GPU takes the work, as in jobs
    model.to(device)
    batches = _batches(tokenizer, texts, targets, WARM_UP_STEPS + steps)
    initial = copy.deepcopy(model.state_dict())
    seconds: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for r in range(rounds):
        for precision in PRECISIONS if r % 2 == 0 else PRECISIONS[::-1]:
            model.load_state_dict(initial)
            seconds[precision].append(_steps_seconds(model, batches, precision, device))
    ratios = [f / b for f, b in zip(seconds["fp32"], seconds["bf16"], strict=True)]
    return {
        "device": device,
        "steps": steps,
        "batch": BATCH,
        "seconds": {p: [rounded(s, 3) for s in v] for p, v in seconds.items()},
        "s_per_step": {p: rounded(median(v) / steps, 4) for p, v in seconds.items()},
        "ratios": [rounded(r, 3) for r in ratios],
        "speedup": rounded(median(ratios), 3),
    }


def _quality(spec: dict[str, Any]) -> dict[str, Any]:
    """One session per (collection, seed, precision); bf16 - fp32 test macro-F1 per collection."""
    from .quality import make_case, run_default, training_config

    rows = []
    for collection in spec["collections"]:
        for seed in range(spec["seeds"]):
            for precision in PRECISIONS:
                overrides = {**spec["overrides"], "precision": precision}
                case = make_case(
                    collection, spec["rows"], seed, training_config(seed, spec["model"], overrides)
                )
                row = run_default(case)
                row["precision"] = precision
                rows.append(row)
                _say(
                    f"{collection} seed {seed} {precision}: test macro-F1 "
                    f"{row['test_macro_f1']} ({row['seconds']} s, {row['epochs_trained']} epochs)"
                )
    deltas = {}
    means: dict[str, dict[str, float]] = {}
    for collection in spec["collections"]:
        found = {
            p: [
                r["test_macro_f1"]
                for r in rows
                if r["collection"] == collection and r["precision"] == p
            ]
            for p in PRECISIONS
        }
        means[collection] = {p: rounded(statistics.fmean(v), 4) for p, v in found.items()}
        deltas[collection] = rounded(means[collection]["bf16"] - means[collection]["fp32"], 4)
    return {"rows": rows, "means": means, "deltas": deltas}


def _speed(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Inference and training-step ratios at torch's default thread count, then at one."""
    texts, targets, labels = _speed_data(spec)
    model, tokenizer = _job_model(spec["model"], labels)
    speed: dict[str, dict[str, Any]] = {}
    for threads in THREADS:
        with torch_threads(threads) as used:
            _say(f"{used} threads: inference, {len(texts)} texts, {spec['rounds']} rounds")
            inference = _inference(model, tokenizer, texts, spec["rounds"])
            _say(f"inference speedup {inference['speedup']}; train steps: {spec['steps']}")
            train = _train_steps(model, tokenizer, texts, targets, spec["steps"], spec["rounds"])
            _say(f"train step speedup {train['speedup']}")
        speed[threads] = {"threads": used, "inference": inference, "train_step": train}
    return speed


def _quiet() -> None:
    import logging

    from transformers.utils import logging as hf_logging

    offline_env()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    logging.getLogger("arena_core").setLevel(logging.ERROR)


def run(size: str = "small", with_quality: bool = True) -> dict[str, Any]:
    """The measure's document; ``with_quality=False`` times only (no sessions trained)."""
    from arena_core.training.precision import hardware

    _quiet()
    spec = SIZES[size]
    speed = _speed(spec)
    inference, train = speed["default"]["inference"], speed["default"]["train_step"]
    quality = _quality(spec) if with_quality else None
    delta = min(quality["deltas"].values()) if quality else None  # the worst collection decides
    hw = hardware()
    return {
        "figures": {
            "bf16_inference_speedup": inference["speedup"],
            "bf16_train_step_speedup": train["speedup"],
            "bf16_train_f1_delta": delta,
        },
        "details": {
            "spec": {**spec, "speed_collection": SPEED_COLLECTION, "quality_bar": QUALITY_BAR},
            "hardware": {
                **dict(cuda=hw.cuda, cuda_bf16=hw.cuda_bf16, cpu_bf16=hw.cpu_bf16),
                "native_bf16": hw.native_bf16,
            },
            "inference": inference,
            "train_step": train,
            # a shared machine's load hurts multi-threaded timings most: one thread as a check
            "one_thread": speed["one"],
            "quality": quality,
            "auto_trains_bf16": None
            if delta is None
            else bool(delta >= -QUALITY_BAR and train["speedup"] > 1.0),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.precision [--size small] [--speed-only] [--json PATH]``."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.precision", description=__doc__)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--speed-only", action="store_true", help="no quality sessions")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the document here")
    args = parser.parse_args(argv)
    load = machine()["load_avg_1m"]
    document = run(args.size, with_quality=not args.speed_only)
    document["machine"] = {**machine(), "load_avg_1m_before": load}
    print_and_save(document, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
