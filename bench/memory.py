"""Peak memory of the worker process training MiniLM at batch 16, max_length 128.

The worker runs as a child process (as ``jobs.launch`` starts it, without detaching). Its peak
resident set is the kernel's high-water mark of the worker's own address space (``VmHWM`` in
``/proc/PID/status``), read every ``SAMPLE_SECONDS`` until the worker exits: the mark only
grows, so the last reading holds every earlier spike. A psutil sampler of the resident set dates
the peak against the job's milestones.

Not ``os.wait4``'s ``ru_maxrss``: a child started by fork/vfork + exec inherits the *parent's*
high-water mark at exec, so after the throughput measure (three Trainers in this process, about
2 GB) it read 2000 MiB for a worker whose own peak was 1315 MiB. It is kept in the details.
The length-grouped sampler puts the longest batch first, so 128-token batches occur even on the
small dataset.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from .common import offline_env, rounded, scratch, start_worker, worker_log_events

SAMPLE_SECONDS = 0.05
SIZES = {
    "smoke": {"rows": 60, "epochs": 1, "model": "tiny"},
    "small": {"rows": 200, "epochs": 1, "model": "minilm"},
    "full": {"rows": 1000, "epochs": 3, "model": "minilm"},
}


def _high_water(pid: int) -> int | None:
    """VmHWM of ``pid`` in bytes (Linux), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _sample(
    pid: int, stop: threading.Event, timeline: list[tuple[float, int]], high_water: list[int]
) -> None:
    """(time, RSS of the process and its children) and the worker's VmHWM every sample."""
    import psutil

    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        mark = _high_water(pid)
        if mark is not None:
            high_water.append(mark)
        try:
            total = process.memory_info().rss
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
        except psutil.Error:
            return
        timeline.append((time.time(), total))
        stop.wait(SAMPLE_SECONDS)


def _phases(
    folder, timeline: list[tuple[float, int]], milestones: dict[str, str] | None = None
) -> dict[str, Any]:
    """When the peak happened, relative to the job's milestones (worker.log, metrics lines);
    ``milestones`` adds worker.log patterns (name -> regular expression)."""
    from arena_core.store import paths
    from arena_core.store.metrics_log import EVAL, TRAIN, read_metrics

    events = worker_log_events(
        folder / paths.WORKER_LOG,
        {
            "job_start": r"job \S+: start",
            "job_done": r"job \S+ (completed|failed)",
            **(milestones or {}),
        },
    )
    records, _ = read_metrics(folder / paths.METRICS)
    train = [r["time"] for r in records if r.get("kind") == TRAIN]
    evals = [r["time"] for r in records if r.get("kind") == EVAL]
    if train:
        events.update(first_loss_line=train[0], last_loss_line=train[-1])
    if evals:
        events["first_eval_line"] = evals[0]
    if not timeline:
        return {}
    peak_time, _ = max(timeline, key=lambda sample: sample[1])
    before = [
        name for name, when in sorted(events.items(), key=lambda e: e[1]) if when <= peak_time
    ]

    def rss_at(when: float) -> float:
        earlier = [rss for t, rss in timeline if t <= when] or [timeline[0][1]]
        return rounded(earlier[-1] / 2**20, 1)

    return {
        "peak_after": before[-1] if before else "worker start",
        "rss_mb_at": {
            name: rss_at(when) for name, when in sorted(events.items(), key=lambda e: e[1])
        },
    }


def run(size: str = "small", **training: Any) -> dict[str, Any]:
    """``training`` overrides the session's other settings, e.g. ``attention_dropout=None``
    (the model's own 0.1) for the before/after figures in BENCHMARKS.md."""
    from arena_core.session.manifest import SessionStatus, TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .data import create_session

    offline_env()
    spec = SIZES[size]
    config = TrainingConfig(
        model=spec["model"], epochs=spec["epochs"], batch_size=16, max_length=128, **training
    )
    with scratch("memory") as home:
        store = SessionStore(home)
        session_id = create_session(store, spec["rows"], ("category",), config)
        start = time.perf_counter()
        process = start_worker(home, session_id)
        stop, timeline, high_water = threading.Event(), [], []
        sampler = threading.Thread(
            target=_sample, args=(process.pid, stop, timeline, high_water), daemon=True
        )
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        wall = time.perf_counter() - start
        final = store.load(session_id).status
        phases = _phases(store.session_dir(session_id), timeline)
    if final is not SessionStatus.COMPLETED:
        raise RuntimeError(f"the worker ended {final} (exit code {process.returncode})")
    inherited_mb = usage.ru_maxrss / 1024  # Linux: kilobytes; includes this process's mark
    high_water_mb = max(high_water, default=0) / 2**20
    sampled_mb = max((rss for _, rss in timeline), default=0) / 2**20
    peak_mb = max(high_water_mb, sampled_mb) if high_water else max(inherited_mb, sampled_mb)
    return {
        "figures": {"peak_rss_mb": rounded(peak_mb, 1)},
        "details": {
            "size": {**spec, "batch_size": 16, "max_length": 128},
            "attention_dropout": config.attention_dropout,
            "vm_hwm_mb": rounded(high_water_mb, 1),
            "sampled_peak_mb": rounded(sampled_mb, 1),
            "ru_maxrss_mb_with_parent_mark": rounded(inherited_mb, 1),
            "wall_s": rounded(wall),
            **phases,
        },
    }
