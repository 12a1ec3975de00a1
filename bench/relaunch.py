"""Relaunch latency: from the Relaunch call to the first training-loss line in the metrics file.

The worker's part of what a user waits for; ``bench/relaunch_chart.py`` times the whole of it
in a browser (the click on the Sessions page to the point drawn on the Monitor).

The parent is a ready session on generated data with the default training settings (packaged
MiniLM, batch 16, max_length 128, the default ``logging_steps``; ``first_line_step`` in the
details says after how many optimizer steps the first loss line came: 1, the trainer logs the
first step). ``control.relaunch`` copies it (hard links), writes the child manifest and starts
the detached worker; the clock stops at the ``time`` of the child's first ``train`` line. The
child is then cancelled. Phases come from worker.log timestamps: worker started (interpreter,
CLI), training libraries loaded (data read, torch and transformers imported), job started
(tokenized), model ready (weights and Trainer); the rest to the first line is the Trainer's
set-up and the first optimizer step.
"""

from __future__ import annotations

import time
from typing import Any

from .common import median, offline_env, rounded, scratch, worker_log_events

SIZES = {
    "smoke": {"rows": 200, "runs": 1, "model": "tiny"},
    "small": {"rows": 300, "runs": 1, "model": "minilm"},
    "full": {"rows": 1000, "runs": 3, "model": "minilm"},
}
TIMEOUT_S = 300.0
EVENTS = {
    "worker": r"worker pid",
    "libraries": r"training libraries loaded",
    "job": r"job \S+: start",
    "model": r": model ready",
}


def _first_train_line(store, session_id: str, started: float) -> tuple[float, int]:
    """(epoch time, step) of the child's first train record (polls every 20 ms)."""
    from arena_core.session.manifest import SessionStatus
    from arena_core.store import paths
    from arena_core.store.metrics_log import TRAIN, MetricsTail
    from arena_core.store.status import ACTIVE

    folder = store.session_dir(session_id)
    tail = MetricsTail(folder / paths.METRICS)
    checked = time.monotonic()
    while time.time() - started < TIMEOUT_S:
        for record in tail.poll():
            if record.get("kind") == TRAIN:
                return float(record["time"]), int(record.get("step", -1))
        if time.monotonic() - checked > 1.0:
            checked = time.monotonic()
            status = store.status(session_id)
            if status not in ACTIVE and status is not SessionStatus.READY:
                log = (folder / paths.WORKER_LOG).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"relaunched session {session_id} ended {status}:\n{log}")
        time.sleep(0.02)
    raise RuntimeError(f"no training line within {TIMEOUT_S:.0f} s in {session_id}")


def measure_once(store, parent_id: str) -> dict[str, Any]:
    from arena_core.run import control
    from arena_core.store import paths

    started = time.time()
    child = control.relaunch(store, parent_id)
    launched = time.time()
    try:
        first, step = _first_train_line(store, child, started)
    finally:
        try:
            control.cancel(store, child, grace=30)
            control.wait(store, child, quiet=True, timeout=120)
        except Exception as exc:  # noqa: BLE001 - an ended worker is fine
            if "not running" not in str(exc):
                raise
    events = worker_log_events(store.session_dir(child) / paths.WORKER_LOG, EVENTS)
    phases = {"relaunch_call_s": rounded(launched - started)}
    names = {"worker": "worker_started_s", "libraries": "libraries_loaded_s"}
    names.update(job="job_started_s", model="model_ready_s")
    phases.update({names[k]: rounded(when - started) for k, when in events.items()})
    return {"latency_s": rounded(first - started), "first_line_step": step, **phases}


def run(size: str = "small") -> dict[str, Any]:
    from arena_core.session.manifest import TrainingConfig
    from arena_core.store.session_store import SessionStore

    from .data import create_session

    offline_env()
    spec = SIZES[size]
    config = TrainingConfig(model=spec["model"])
    with scratch("relaunch") as home:
        store = SessionStore(home)
        parent = create_session(store, spec["rows"], ("category",), config, name="parent")
        runs = [measure_once(store, parent) for _ in range(spec["runs"])]
    return {
        "figures": {"relaunch_latency_s": rounded(median([r["latency_s"] for r in runs]))},
        "details": {
            "size": {**spec, "logging_steps": config.logging_steps, "batch_size": 16},
            "runs": runs,
        },
    }
