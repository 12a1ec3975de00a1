"""Peak memory of the worker process on a 100,000-row session (target <= 2 GB = 1907 MiB).

The session is built through the real core (``normalise`` -> ``prepare`` -> ``create``) from real
texts installed from Debian (see bench/quality_sources.py): English fortune cookies and WordNet
3.0 glosses (nouns, verbs, adjectives, adverbs), 141,000 texts shuffled with a fixed seed and
cut to the row count (cycled, each row with its own id, if ever too few). Label: ``fortune``
or the gloss's lexicographer file, 46 classes, one multi-class key. Split 80/20
train/validation, MiniLM, batch 16, max_length 128, one epoch.

The real worker trains it (``python -m arena_core run``), so the measure includes loading the
libraries, reading the snapshot, tokenizing all rows once, the model, training steps, a full
validation pass over every validation row, saving the best model and the tf-idf reference
baseline of the report.

What is capped: the number of optimizer steps (``step_cap`` in SIZES). One epoch of 80,000
rows is 5,000 steps (about half an hour of MiniLM on two cores), and more steps do not raise
the peak: a step holds one batch's activations (at most 16 x 128 tokens, tens of MiB for
MiniLM) and the heap is trimmed between steps (training/heap.py), while the peak comes later,
in the reference baseline. The 60 steps visit length buckets in a seeded random order, so a
128-token batch is likely among them but not certain. The session has no step-cap
setting, and adding one to the core for a benchmark would be a product change, so the
benchmark starts the worker through ``capped_worker``: the same CLI entry point, with
``max_steps`` set on the Trainer's arguments. Nothing else differs from a launch (the
environment of ``common.python_env``, as ``start_worker`` uses; the worker's code; its
validation pass), except that torch and transformers are imported before the CLI parses its
arguments instead of just after (worker.log then says "training libraries loaded in 0.0 s"):
the same modules, the same memory.

The peak is the kernel's high-water mark of the worker (``VmHWM``), sampled like
bench/memory.py does; a psutil timeline dates it against the worker.log milestones.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import ROOT, offline_env, python_env, rounded, scratch
from .memory import _phases, _sample

SIZES = {
    "smoke": {"rows": 2_000, "model": "tiny", "step_cap": 10},
    "small": {"rows": 10_000, "model": "minilm", "step_cap": 20},
    "full": {"rows": 100_000, "model": "minilm", "step_cap": 60},
}
FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
MILESTONES = {  # worker.log lines (name -> pattern) the timeline is read against
    "libraries_loaded": r"training libraries loaded",
    "model_ready": r"model ready",
    "baseline_fit": r"baseline tfidf C=",
}
TARGET_MIB = 2e9 / 2**20


# --------------------------------------------------------------------------- data


def real_rows(n: int) -> list[dict[str, str]]:
    """``n`` (text, label) rows: English fortunes first, then WordNet glosses, cycled when the
    two hold fewer than ``n`` texts, in a seeded order; 46 labels: ``fortune`` or the gloss's
    WordNet lexicographer file (``wordnet:noun.artifact`` ...), imbalanced as they come.
    Raises RuntimeError when the Debian packages are missing."""
    from . import quality_sources as sources

    rows: list[dict[str, str]] = []
    if FORTUNES.is_dir():
        for path in sorted(FORTUNES.iterdir()):
            if path.is_file() and not path.suffix:  # skip .dat / .u8 indexes
                rows += [
                    {"text": sources.clean_text(c), "label": "fortune"}
                    for c in sources.fortune_cookies(path)
                ]
    for name in WORDNET_FILES:
        if (WORDNET / name).is_file():
            for row in sources.wordnet_rows(WORDNET / name, sources.LEXNAMES):
                rows.append({"text": row["text"], "label": f"wordnet:{row['label']}"})
    rows = [r for r in rows if r["text"]]
    order = np.random.default_rng(0).permutation(len(rows))  # both sources in any prefix
    rows = [rows[i] for i in order]
    if len(rows) < 1000:
        raise RuntimeError(
            "memory_100k needs the Debian packages 'fortunes' and 'wordnet-base' "
            "(apt-get install fortunes wordnet-base)"
        )
    return [rows[i % len(rows)] for i in range(n)]


def prepared_session(n: int, training, seed: int = 7):
    """A checked, unwritten 100k-style session (label-columns layout, one multi-class key)."""
    import pandas as pd

    from arena_core.data.dataset import normalise
    from arena_core.session.create import SessionSettings, prepare
    from arena_core.session.manifest import DatasetOptions, SplitSettings

    frame = pd.DataFrame(real_rows(n))
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])  # distinct ids, cycled or not
    options = DatasetOptions(
        layout="label-columns", text_col="text", label_cols=["label"], id_col="id"
    )
    dataset = normalise(frame, options, source_name="memory_100k.csv")
    settings = SessionSettings(
        strategies={"label": "multi-class"},
        min_examples=2,
        split=SplitSettings(val_ratio=0.2, test_ratio=0.0, seed=seed),
        training=training,
        name="memory_100k",
    )
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame).values.tobytes()).hexdigest()
    return prepare(dataset, settings, digest)


# --------------------------------------------------------------------------- the worker


def capped_worker() -> None:
    """``python -m arena_core ...`` with the Trainer's ``max_steps`` set to ``argv[1]``: see
    the module docstring for why. Called in the child process (``worker_command``)."""
    max_steps = int(sys.argv.pop(1))
    from arena_core.cli.main import main
    from arena_core.training import trainer

    original = trainer.training_args

    def capped(*args: Any, **kwargs: Any):
        arguments = original(*args, **kwargs)
        arguments.max_steps = max_steps
        return arguments

    trainer.training_args = capped
    sys.exit(main(sys.argv[1:]))


def worker_command(home: Path, session_id: str, max_steps: int) -> list[str]:
    code = "from bench.memory_100k import capped_worker; capped_worker()"
    return [sys.executable, "-c", code, str(max_steps), "--home", str(home), "run", session_id]


def _measure(home: Path, session_id: str, max_steps: int, timeout: float):
    """Run the worker, sampling it; (exit code or None when stopped, wall s, timeline, VmHWM)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        worker_command(home, session_id, max_steps),
        env=python_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop, timeline, high_water = threading.Event(), [], []
    sampler = threading.Thread(
        target=_sample, args=(process.pid, stop, timeline, high_water), daemon=True
    )
    sampler.start()
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:  # record what it reached: "at least" that much
        process.kill()
        process.wait()
        code = None
    stop.set()
    sampler.join()
    return code, time.perf_counter() - start, timeline, high_water


def _timeline(folder: Path, timeline: list[tuple[float, int]], every: float = 2.0) -> dict:
    """The resident set every ``every`` s and the worker.log milestones, in s from the start:
    what dates the next-largest costs."""
    from arena_core.store import paths

    from .common import worker_log_events

    if not timeline:
        return {}
    t0 = timeline[0][0]
    events = worker_log_events(
        folder / paths.WORKER_LOG, {"job_start": r"job \S+: start", **MILESTONES}
    )
    points, next_t = [], t0
    for when, rss in timeline:
        if when >= next_t:
            points.append((round(when - t0, 1), rounded(rss / 2**20, 0)))
            next_t = when + every
    return {
        "events_s": {name: round(when - t0, 1) for name, when in events.items()},
        "rss_timeline_mb": points,
    }


def run(size: str = "small", timeout: float | None = None) -> dict[str, Any]:
    """``timeout`` (s, default ``BENCH_MEMORY_100K_TIMEOUT`` or 3600) stops a worker that runs
    too long; the figure is then a lower bound (``details.stopped``)."""
    from arena_core.session.create import create_session
    from arena_core.session.manifest import SessionStatus, TrainingConfig
    from arena_core.store import paths
    from arena_core.store.metrics_log import read_metrics
    from arena_core.store.records import read_report
    from arena_core.store.session_store import SessionStore

    offline_env()
    spec = SIZES[size]
    timeout = timeout or float(os.environ.get("BENCH_MEMORY_100K_TIMEOUT") or 3600)
    config = TrainingConfig(model=spec["model"], epochs=1, batch_size=16, max_length=128)
    with scratch("memory-100k") as home:
        store = SessionStore(home)
        started = time.perf_counter()
        session_id = create_session(store, prepared_session(spec["rows"], config)).id
        create_s = time.perf_counter() - started
        code, wall, timeline, high_water = _measure(home, session_id, spec["step_cap"], timeout)
        folder = store.session_dir(session_id)
        final = store.load(session_id).status
        phases = _phases(folder, timeline, MILESTONES)
        phases.update(_timeline(folder, timeline))
        manifest = store.load(session_id)
        keys = list(manifest.keys)
        records, _ = read_metrics(folder / paths.METRICS)
        jobs = folder / paths.JOBS_DIR
        reports = [read_report(d) for d in sorted(jobs.iterdir())] if jobs.is_dir() else []
    stopped = code is None
    if not stopped and final is not SessionStatus.COMPLETED:
        raise RuntimeError(f"the worker ended {final} (exit code {code})")
    peak_mb = max(high_water, default=0) / 2**20
    report = reports[0] if reports and reports[0] is not None else None
    return {
        "figures": {"peak_rss_100k_mb": rounded(peak_mb, 1)},
        "details": {
            "size": {**spec, "batch_size": 16, "max_length": 128, "epochs": 1},
            "stopped": stopped,  # True: killed at the timeout, the peak is a lower bound
            "target_mb": rounded(TARGET_MIB, 1),
            "sampled_peak_mb": rounded(max((r for _, r in timeline), default=0) / 2**20, 1),
            "create_session_s": rounded(create_s),
            "wall_s": rounded(wall),
            "global_step": report.global_step if report else None,
            "train_rows": report.n_train if report else None,
            "validation_rows": report.n_validation if report else None,
            "jobs": len(reports),
            "eval_lines": sum(1 for r in records if r.get("kind") == "eval"),
            "baseline": report.baseline if report else None,
            "keys": keys,
            **phases,
        },
    }
