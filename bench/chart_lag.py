"""Live chart lag: from a metrics line written to its appearance in the Monitor's data.

The Monitor page's fragment re-runs every ``REFRESH_SECONDS`` (read from app_pages/monitor.py)
while a session trains; each tick it calls ``control.session_status`` and polls the session's
``MetricsTail`` (only the new bytes), then builds the loss and F1 figures through the
page's ``SeriesIndex`` (only the new records; long training curves downsampled).
This measure replays that tick without Streamlit: a writer thread appends train lines with
``MetricsWriter`` at random moments (as the worker does), the reader ticks every refresh
interval, and the lag of a line is the end of the tick that first shows it (figures built)
minus its write time. Expected: up to one refresh interval plus the tick's own cost.

Tick cost vs file size: the file grows to 1k / 10k / 100k lines (train lines, an eval line
with per-label details every 50); at each size a line is appended and one tick is timed, split
into the incremental read (``MetricsTail.poll``) and the figures built from all records. A
full re-read (``read_metrics`` from byte 0) is timed for comparison.
"""

from __future__ import annotations

import ast
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from .common import median, offline_env, page_file, rounded, scratch

DEFAULT_REFRESH = 1.5
SIZES = {
    "smoke": {"lines": 3, "file_sizes": [1000, 5000]},
    "small": {"lines": 8, "file_sizes": [1000, 10000, 50000]},
    "full": {"lines": 20, "file_sizes": [1000, 10000, 100000]},
}
TICKS_PER_SIZE = 15


def refresh_seconds() -> float:
    """REFRESH_SECONDS as written in the Monitor page (the page itself cannot be imported)."""
    try:
        tree = ast.parse(page_file("monitor.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return DEFAULT_REFRESH
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "REFRESH_SECONDS" for t in node.targets
        ):
            return float(ast.literal_eval(node.value))
    return DEFAULT_REFRESH


def _train_record(step: int) -> dict[str, Any]:
    return {
        "kind": "train",
        "job": "category",
        "step": step,
        "epoch": round(step / 100, 4),
        "train_loss": round(1.1 / (1 + step / 200), 5),
        "learning_rate": 4.9e-5,
        "grad_norm": 3.2,
    }


def _eval_record(step: int) -> dict[str, Any]:
    labels = ["complaint", "praise", "question"]
    return {
        "kind": "eval",
        "job": "category",
        "step": step,
        "epoch": round(step / 100, 4),
        "val_loss": 0.4,
        "val_macro_f1": 0.8,
        "val_accuracy": 0.82,
        "is_best": True,
        "per_label": {
            label: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 100} for label in labels
        },
        "confusion_matrix": [[80, 10, 10], [10, 80, 10], [10, 10, 80]],
        "labels": labels,
    }


class _Tick:
    """The fragment's data path for one session, without Streamlit."""

    def __init__(self, store, session_id: str) -> None:
        from arena_core.store import paths
        from arena_core.store.metrics_log import MetricsTail
        from arena_core.viz.charts import SeriesIndex

        self.store = store
        self.session_id = session_id
        self.tail = MetricsTail(store.session_dir(session_id) / paths.METRICS)
        self.index = SeriesIndex()  # kept across ticks, as the page keeps it in session_state

    def __call__(self) -> tuple[list[dict[str, Any]], float, float]:
        """(new records, read seconds, figure seconds)."""
        from arena_core.run import control
        from arena_core.viz.charts import f1_figure, loss_figure

        start = time.perf_counter()
        control.session_status(self.store, self.session_id)
        new = self.tail.poll()
        read = time.perf_counter() - start
        start = time.perf_counter()
        loss_figure(self.tail.records, self.index)
        f1_figure(self.tail.records, self.index)
        return new, read, time.perf_counter() - start


def _session(home: Path):
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .data import create_session

    store = SessionStore(home)
    return store, create_session(store, 60, ("category",), TrainingConfig(model="tiny"))


def measure_lag(refresh: float, lines: int, seed: int = 0) -> dict[str, Any]:
    """Write ``lines`` lines at random moments; lag of each as seen by ticks every ``refresh``."""
    from arena_core.store import paths
    from arena_core.store.metrics_log import MetricsWriter

    rng = random.Random(seed)
    with scratch("lag") as home:
        store, session_id = _session(home)
        writer = MetricsWriter(store.session_dir(session_id) / paths.METRICS)
        tick = _Tick(store, session_id)
        tick()  # the page's first render
        written: dict[int, float] = {}

        def write() -> None:
            for step in range(1, lines + 1):
                time.sleep(rng.uniform(0.3, 1.7) * refresh)
                written[step] = time.time()
                writer.append(_train_record(step))

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        read_lags: list[float] = []  # the line is in the fragment's data
        chart_lags: list[float] = []  # ... and in the figures built from it
        next_tick = time.monotonic() + refresh
        while len(chart_lags) < lines:
            time.sleep(max(0.0, next_tick - time.monotonic()))
            new, read, figures = tick()
            seen = time.time()
            for record in new:
                if record.get("step") in written:
                    chart_lags.append(seen - written[record["step"]])
                    read_lags.append(chart_lags[-1] - figures)
            next_tick += refresh
        thread.join()
    return {
        "refresh_s": refresh,
        "lines": lines,
        "max_s": rounded(max(chart_lags)),
        "median_s": rounded(median(chart_lags)),
        "max_read_only_s": rounded(max(read_lags)),
    }


def measure_tick_cost(file_sizes: list[int]) -> list[dict[str, Any]]:
    """Per-tick cost at growing metrics file sizes (incremental read vs full re-read)."""
    from arena_core.store import paths
    from arena_core.store.metrics_log import MetricsWriter, read_metrics

    results = []
    with scratch("tick") as home:
        store, session_id = _session(home)
        path = store.session_dir(session_id) / paths.METRICS
        writer = MetricsWriter(path)
        tick = _Tick(store, session_id)
        step = 0
        for size in sorted(file_sizes):
            with open(path, "a", encoding="utf-8") as handle:  # grow fast, same line format
                while step < size:
                    step += 1
                    record = _eval_record(step) if step % 50 == 0 else _train_record(step)
                    handle.write(json.dumps({"time": time.time(), **record}) + "\n")
            tick()  # catch up once, as a page opened mid-training would
            reads, figures = [], []
            for _ in range(TICKS_PER_SIZE):
                step += 1
                writer.append(_train_record(step))
                _, read, figure = tick()
                reads.append(read)
                figures.append(figure)
            start = time.perf_counter()
            read_metrics(path, 0)
            full = time.perf_counter() - start
            results.append(
                {
                    "lines": step,
                    "mb": rounded(path.stat().st_size / 2**20, 2),
                    "tick_read_ms": rounded(1000 * median(reads), 2),
                    "tick_figures_ms": rounded(1000 * median(figures), 2),
                    "full_reread_ms": rounded(1000 * full, 2),
                }
            )
    return results


def run(size: str = "small") -> dict[str, Any]:
    offline_env()
    spec = SIZES[size]
    refresh = refresh_seconds()
    lag = measure_lag(refresh, spec["lines"])
    costs = measure_tick_cost(spec["file_sizes"])
    growth = costs[-1]["tick_read_ms"] / max(costs[0]["tick_read_ms"], 1e-6)
    figure_growth = costs[-1]["tick_figures_ms"] / max(costs[0]["tick_figures_ms"], 1e-6)
    return {
        "figures": {"chart_lag_s": lag["max_s"]},
        "details": {
            "lag": lag,
            "target_s": refresh + 0.5,
            "tick_cost": costs,
            "tick_read_growth": rounded(growth, 2),
            "tick_figures_growth": rounded(figure_growth, 2),
        },
    }
